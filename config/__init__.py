"""How a deployment is put together: settings and the dependency container."""
