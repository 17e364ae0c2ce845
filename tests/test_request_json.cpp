// Request bodies as JSON: the depth bound that keeps deeply nested bodies (found by fuzz_request: tool-call
// arguments nested 100k deep overflowed the stack when written back out) from reaching recursive code.
#include <gtest/gtest.h>

#include <string>

#include "server/api_error.h"
#include "server/request_validation.h"

namespace qs::server {
namespace {

std::string nested(int depth, const std::string& inner = "1") {
  return std::string(static_cast<size_t>(depth), '[') + inner + std::string(static_cast<size_t>(depth), ']');
}

int status_of(const std::string& body) {
  try {
    parse_request_json(body);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

TEST(RequestJson, DepthIsBoundedBeforeParsing) {
  EXPECT_EQ(status_of(nested(kMaxJsonDepth)), 200);
  EXPECT_EQ(status_of(nested(kMaxJsonDepth + 1)), 400);
  try {
    parse_request_json("{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"arguments\":" +
                       nested(4'000'000) + "}}]}]}");
    FAIL() << "a body nested 4 million deep was accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("nested deeper than 128"), std::string::npos) << e.what();
  }
  // Brackets inside strings (escaped quotes included) are text, not nesting.
  const std::string text = "{\"content\":\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}";
  EXPECT_EQ(parse_request_json(text)["content"].get<std::string>().size(), 2001u);
}

TEST(RequestJson, EmptyAndInvalidBodiesAre400) {
  EXPECT_EQ(status_of(""), 400);
  EXPECT_EQ(status_of("{\"a\":"), 400);
  EXPECT_EQ(status_of("\xff"), 400);
  EXPECT_EQ(status_of("]]]]{}"), 400);  // negative depth never trips the check, the parser refuses it
}

}  // namespace
}  // namespace qs::server
