#include "verity/ingest/bulk_request.h"

#include <gtest/gtest.h>

namespace verity::ingest {
namespace {

TEST(BulkParser, SplitsActionsAndSourcesInOrder) {
  BulkParser p(64);
  std::vector<BulkItem> items;
  BulkError error;
  const std::string body =
      "{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"routing\":\"r\"}}\n{\"x\":1}\r\n\n"
      "{\"delete\":{\"_id\":\"2\"}}\n{\"create\":{}}\n" +
      std::string(100, 'z') + "\n{\"update\":{\"_id\":\"3\"}}\n{\"doc\":{}}\n";
  ASSERT_TRUE(p.parse(body, "dflt", items, error)) << error.reason;
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].op, BulkOp::kIndex);
  EXPECT_EQ(items[0].index, "a");
  EXPECT_EQ(items[0].id, "1");
  EXPECT_EQ(items[0].source.text, "{\"x\":1}");
  EXPECT_EQ(items[0].source.number, 2u);
  EXPECT_EQ(items[1].op, BulkOp::kDelete);
  EXPECT_EQ(items[1].index, "dflt");
  EXPECT_EQ(items[1].source.number, 0u);
  EXPECT_EQ(items[2].op, BulkOp::kCreate);
  EXPECT_EQ(items[2].action_line, 5u);
  EXPECT_TRUE(items[2].source.too_long);
  EXPECT_EQ(items[2].source.length, 100u);
  EXPECT_EQ(items[3].op, BulkOp::kUpdate);
  EXPECT_EQ(items[3].source.text, "{\"doc\":{}}");
}

TEST(BulkParser, RefusesWholeRequestsAsElasticsearchDoes) {
  BulkParser p(64);
  auto refuse = [&](const std::string& body, std::string_view index = "i") {
    std::vector<BulkItem> items;
    BulkError error;
    EXPECT_FALSE(p.parse(body, index, items, error)) << body;
    EXPECT_TRUE(items.empty());
    return error.type + ": " + error.reason;
  };
  EXPECT_EQ(refuse(""), "parse_exception: request body is required");
  EXPECT_EQ(refuse("{\"create\":{}}\n{}"),
            "illegal_argument_exception: The bulk request must be terminated by a newline [\\n]");
  EXPECT_EQ(refuse("\n\n"),
            "action_request_validation_exception: Validation Failed: 1: no "
            "requests added;");
  EXPECT_EQ(refuse("{\"create\":{}}\n{}\n", ""),
            "action_request_validation_exception: Validation Failed: 1: index is missing (action "
            "on line 1);");
  EXPECT_EQ(refuse("{\"create\":{}}\n"),
            "illegal_argument_exception: the [create] action on line 1 has no source line");
  EXPECT_EQ(refuse("{\"create\":{},\"index\":{}}\n{}\n"),
            "illegal_argument_exception: Malformed action/metadata line [1], expected END_OBJECT "
            "after the action's parameters");
  EXPECT_EQ(refuse("{\"create\":[]}\n{}\n"),
            "illegal_argument_exception: Malformed action/metadata line [1], expected an object "
            "as the value of [create]");
  EXPECT_EQ(refuse("{\"create\":{\"_id\":5}}\n{}\n"),
            "action_request_validation_exception: Action/metadata line [1]: [_id] must be a "
            "string");
  EXPECT_EQ(refuse("{\"create\":{}} x\n{}\n"),
            "illegal_argument_exception: Malformed action/metadata line [1], invalid JSON");
}

}  // namespace
}  // namespace verity::ingest
