"""`python -m target_app serve`'s uvicorn options: bounded frames, proxy headers only from named proxies."""

from target_app.__main__ import server_options


def test_proxy_headers_are_ignored_unless_trusted_proxies_are_named(settings):
    options = server_options({})
    # uvicorn's own default trusts X-Forwarded-For from 127.0.0.1: any local client could pick its address.
    assert (options["proxy_headers"], options["forwarded_allow_ips"]) == (False, None)
    assert server_options({"FORWARDED_ALLOW_IPS": "  "})["proxy_headers"] is False


def test_named_proxies_are_trusted_for_forwarded_addresses():
    options = server_options({"FORWARDED_ALLOW_IPS": "10.0.0.5,10.0.0.6"})
    assert (options["proxy_headers"], options["forwarded_allow_ips"]) == (True, "10.0.0.5,10.0.0.6")


def test_the_transport_reads_no_frame_over_the_frame_limit(settings):
    settings.WS_MAX_FRAME_BYTES = 65536
    assert server_options({})["ws_max_size"] == 65536


def test_the_production_stack_serves_with_redacted_logs():
    options = server_options({"TARGET_APP_LOG_LEVEL": "WARNING"})
    assert (options["ws"], options["lifespan"]) == ("websockets-sansio", "off")
    assert options["log_level"] == "warning"
    filters = {name: handler.get("filters") for name, handler in options["log_config"]["handlers"].items()}
    assert filters and all({"redact_tokens", "client_faults"} <= set(names) for names in filters.values())
