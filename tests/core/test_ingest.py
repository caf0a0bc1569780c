from plexus_core import ingest


def test_classify():
    assert ingest.classify(200) == ingest.OK
    assert ingest.classify(204) == ingest.OK
    assert ingest.classify(401) == ingest.AUTH
    assert ingest.classify(403) == ingest.AUTH
    for s in (400, 413, 422):
        assert ingest.classify(s) == ingest.REJECTED
    for s in (429, 500, 502, 503, 408):
        assert ingest.classify(s) == ingest.RETRY
    for s in (402, 404):
        assert ingest.classify(s) == ingest.OTHER


def test_error_text():
    assert ingest.error_text('{"error":"invalid gzip body"}') == "invalid gzip body"
    assert ingest.error_text(b"plain") == "plain"


def test_stored_count_reads_count_and_dropped():
    assert ingest.stored_count('{"success":true,"count":3}', 3) == 3
    assert ingest.stored_count('{"success":true,"count":0,"source_id":"a"}', 3) == 0
    assert ingest.stored_count('{"success":true,"count":0,"dropped":3}', 3) == 0
    assert ingest.stored_count('{"success":true,"dropped":1}', 3) == 2
    assert ingest.stored_count('{"success":true}', 3) == 3
    assert ingest.stored_count("", 3) == 3
