#pragma once

// The one engine over the components' config declarations (verity/core/config_schema.h): it reads
// YAML into them, renders them back, and writes the annotated defaults (config/verity.yaml) and
// the reference (docs/configuration.md). No key is named here.

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "verity/core/config_schema.h"

namespace verity::app {

// Reads `node` (a mapping, or null: all defaults) into `section`. Every problem is appended to
// `errors` as "<key path>: <message>": values of the wrong type or out of range, unknown keys,
// and what the section's checks find.
void read_section(const config::Section& section, const YAML::Node& node, const std::string& path,
                  std::vector<std::string>& errors);

// Every key written twice in one mapping, anywhere in the document, appended to `errors` as
// "<key path>: duplicate key at line L (first at line F)": YAML readers keep one of the two and
// drop the other without a word (two `store:` sections would lose the second's settings).
void check_duplicate_keys(const YAML::Node& root, std::vector<std::string>& errors);

// The section's values as YAML; secrets are shown as <hidden> unless `reveal_secrets`.
void render_section(const config::Section& section, YAML::Emitter& out,
                    bool reveal_secrets = false);

// The section's values as a commented YAML file: each key with its description. `header` is
// printed first, as comment lines.
std::string annotated_yaml(const config::Section& section, const std::string& header);

// A Markdown reference: per top-level section, a table of every key (dotted path, type, default,
// range, description), then the examples.
std::string markdown_reference(const config::Section& section, const std::string& intro);

}  // namespace verity::app
