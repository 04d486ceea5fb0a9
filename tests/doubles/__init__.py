"""Local stand-ins for the providers' servers, each checking requests as the real API does."""
