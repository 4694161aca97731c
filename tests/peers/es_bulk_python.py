#!/usr/bin/python3
"""Sends predictions to verity's Elasticsearch-compatible API with Debian's official Python client
(python3-elasticsearch, helpers.bulk) and prints one JSON line of what the client reported.

    /usr/bin/python3 es_bulk_python.py URL COUNT PREFIX [USER PASSWORD]

Every 10th action is a malformed document, so the client sees per-item errors beside successes.
"""
import json
import sys

from elasticsearch import Elasticsearch, helpers


def main():
    url, count, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    auth = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else None
    es = Elasticsearch([url], http_auth=auth, max_retries=0)
    info = es.info()  # the client's product check runs here

    def actions():
        for i in range(count):
            if i % 10 == 9:
                doc = {"model": "fraud", "note": "no request id"}
            else:
                doc = {
                    "request_id": "%s-%d" % (prefix, i),
                    "@timestamp": "2026-11-20T10:30:00Z",
                    "model": {"name": "fraud", "version": "v1"},
                    "inputs": {"amount": i, "email": "user%d@example.com" % i},
                    "outputs": {"label": "ok" if i % 2 else "fraud", "score": (i % 100) / 100},
                }
            yield {"_op_type": "create" if i % 2 else "index", "_index": "predictions",
                   "_source": doc}

    ok, errors = helpers.bulk(es, actions(), chunk_size=250, raise_on_error=False,
                              stats_only=False)
    statuses = sorted({list(e.values())[0]["status"] for e in errors})
    types = sorted({list(e.values())[0]["error"]["type"] for e in errors})
    print(json.dumps({"version": info["version"]["number"], "ok": ok, "errors": len(errors),
                      "statuses": statuses, "types": types}))


if __name__ == "__main__":
    main()
