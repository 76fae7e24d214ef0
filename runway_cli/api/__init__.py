"""Talking to the Runway API: the HTTP client (requests only), its typed results and retries."""
