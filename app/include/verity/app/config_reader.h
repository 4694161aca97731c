#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "verity/core/units.h"

namespace verity::app {

// Reads one YAML mapping of a config file against a typed schema. Keys are read with get(); any key
// left unread when finish() runs is reported as unknown. Every problem is collected (not thrown)
// with its full key path, so a bad file is reported whole.
class ConfigReader {
 public:
  ConfigReader(YAML::Node node, std::string path, std::vector<std::string>& errors);

  // Each reads `key` into `out` when present; absent keys keep the default in `out`.
  void get(std::string_view key, std::string& out);
  void get(std::string_view key, bool& out);
  void get(std::string_view key, size_t& out, size_t min, size_t max);
  void get(std::string_view key, double& out);
  void get(std::string_view key, Duration& out);
  void get(std::string_view key, ByteSize& out);
  void get(std::string_view key, HostPort& out);
  void get(std::string_view key, std::vector<std::string>& out);
  // One of `choices`.
  void get_choice(std::string_view key, std::string& out, const std::vector<std::string>& choices);

  // A nested mapping (absent: an empty mapping). The child reports its own unknown keys on
  // finish().
  ConfigReader child(std::string_view key);
  // The items of a list of mappings (absent: empty), each reader's path ending in "[i]".
  std::vector<ConfigReader> items_of(std::string_view key);
  // The keys of a nested mapping whose entries are user-named (e.g. model names).
  std::vector<std::string> keys_of(std::string_view key);

  // Reports keys that no get() or child() read.
  void finish();

  std::string path_of(std::string_view key) const;
  void error(std::string_view key, std::string_view message);
  bool has(std::string_view key) const;

 private:
  std::optional<YAML::Node> lookup(std::string_view key);

  YAML::Node node_;
  std::string path_;
  std::vector<std::string>& errors_;
  std::set<std::string, std::less<>> read_;
};

}  // namespace verity::app
