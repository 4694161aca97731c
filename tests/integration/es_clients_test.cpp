// The official Elasticsearch clients as peers: Debian's python3-elasticsearch (helpers.bulk) and
// the npm @elastic/elasticsearch client (which refuses servers that do not identify as
// Elasticsearch). Both are installed by scripts/deps --test.

#include <gtest/gtest.h>

#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {
namespace {

const std::string kStored = R"(verity_ingest_events_stored_total{input="es_bulk"})";
const std::string kRejected =
    R"(verity_ingest_events_rejected_total{input="es_bulk",reason="missing_field"})";

TEST(ElasticsearchClients, PythonHelpersBulk) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  const auto r = run_command("/usr/bin/python3 " + peers_dir() + "/es_bulk_python.py " +
                             server.http_url() + " 1000 py");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, R"({"version": "8.15.0", "ok": 900, "errors": 100, "statuses": [400], )"
                      R"("types": ["document_parsing_exception"]})"
                      "\n");
  EXPECT_EQ(scrape(server.http_url(), kStored), 900);
  EXPECT_EQ(scrape(server.http_url(), kRejected), 100);
  auto got = app::http_get(server.http_url() + "/v1/predictions/py-10");
  EXPECT_EQ(got->status, 200);
  EXPECT_NE(got->body.find(R"("input":"es_bulk")"), std::string::npos);
  EXPECT_EQ(got->body.find("user10@example.com"), std::string::npos) << "masked before storing";
}

TEST(ElasticsearchClients, PythonClientWithBasicAuth) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", R"(auth:
  users: [{name: shipper, password: "shipper-password", roles: [ingest]}]
)");
  server.start();
  const auto ok = run_command("/usr/bin/python3 " + peers_dir() + "/es_bulk_python.py " +
                              server.http_url() + " 20 auth shipper shipper-password");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find(R"("ok": 18)"), std::string::npos) << ok.output;
  const auto denied = run_command("/usr/bin/python3 " + peers_dir() + "/es_bulk_python.py " +
                                  server.http_url() + " 20 auth shipper wrong-password");
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.output.find("401"), std::string::npos) << denied.output;
}

TEST(ElasticsearchClients, JavaScriptClientBulkHelper) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  const auto r =
      run_command("node " + peers_dir() + "/es_bulk_js.js " + server.http_url() + " 1000 js");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The second pass replays every good document: idempotent duplicates answered 201.
  EXPECT_EQ(r.output, R"({"version":"8.15.0","successful":900,"failed":100,"again_successful":900,)"
                      R"("again_failed":0,"statuses":[400]})"
                      "\n");
  EXPECT_EQ(scrape(server.http_url(), kStored), 900);
  EXPECT_EQ(scrape(server.http_url(), R"(verity_ingest_events_duplicate_total{input="es_bulk"})"),
            900);
}

// The JavaScript client checks the product header: with the Elasticsearch API turned off, the
// same server is refused.
TEST(ElasticsearchClients, JavaScriptClientRefusesAServerThatIsNotElasticsearch) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "http: {elasticsearch: {enabled: false}}");
  server.start();
  const auto r =
      run_command("node " + peers_dir() + "/es_bulk_js.js " + server.http_url() + " 10 off");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(scrape(server.http_url(), kStored), 0);
}

}  // namespace
}  // namespace verity::testing
