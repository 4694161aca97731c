#pragma once

// Config keys over the document model (verity/core/config_schema.h): JSON pointers, the field
// mapping (fields.*, models.<name>.fields.*) and the Filebeat envelope (envelope.*).

#include <string_view>
#include <vector>

#include "verity/core/config_schema.h"
#include "verity/document/field_mapping.h"

namespace verity::document {

// A key holding one JSON pointer, or a list of them (a single string is a list of one). With an
// `example`, a bad pointer's error reads "expected a JSON pointer such as <example>".
void pointer_key(config::Section& s, std::string_view name, JsonPointer& p, std::string_view doc,
                 std::string_view example);
void pointers_key(config::Section& s, std::string_view name, std::vector<JsonPointer>& v,
                  std::string_view doc, std::string_view example = "");

// fields.*: where each field is looked for. With a `base` (a model's mapping over the top-level
// one), only the fields that differ from it are rendered and model_name may not be set.
void declare_keys(config::Section& s, FieldMapping& m, const FieldMapping* base = nullptr);
// envelope.*.
void declare_keys(config::Section& s, EnvelopeSettings& e);

}  // namespace verity::document
