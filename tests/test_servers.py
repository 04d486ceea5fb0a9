"""The moto fixture really serves SQS over HTTP and resets between tests."""

from tests.servers import MotoServer


def test_moto_serves_sqs_and_resets(moto: MotoServer) -> None:
    sqs = moto.client("sqs")
    sqs.create_queue(QueueName="probe")
    assert len(sqs.list_queues().get("QueueUrls", [])) == 1
    moto.reset()
    assert sqs.list_queues().get("QueueUrls", []) == []
