"""The edge every request crosses: middleware, JSON errors, health probes, the OpenAPI document."""
