#include "verity/app/config_engine.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace verity::app {
namespace {

using config::Collection;
using config::Key;
using config::Section;
using config::Type;
using config::Value;

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// The YAML node as the key's kind of value; a node of the wrong shape becomes a value the key's
// set() refuses with its own message (an empty list for a scalar key, a scalar for a list key).
Value to_value(const YAML::Node& node, Type type, std::string* error) {
  if (type == Type::kStrings) {
    if (node.IsScalar()) return std::vector<std::string>{node.Scalar()};
    if (!node.IsSequence()) return std::string();
    std::vector<std::string> items;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        *error = "expected a list of strings";
        return items;
      }
      items.push_back(item.Scalar());
    }
    return items;
  }
  if (type == Type::kListMap) {
    if (!node.IsMap()) {
      *error = "expected a mapping";
      return config::ListMap{};
    }
    config::ListMap out;
    for (const auto& kv : node) {
      std::vector<std::string> items;
      const YAML::Node& v = kv.second;
      if (v.IsScalar()) {
        items.push_back(v.Scalar());
      } else if (v.IsSequence()) {
        for (const auto& item : v) {
          if (!item.IsScalar()) {
            *error = "expected lists of strings";
            return out;
          }
          items.push_back(item.Scalar());
        }
      } else if (!v.IsNull()) {
        *error = "expected lists of strings";
        return out;
      }
      out.emplace_back(kv.first.Scalar(), std::move(items));
    }
    return out;
  }
  if (node.IsScalar()) return node.Scalar();
  return std::vector<std::string>{};
}

void run_checks(const Section& section, const std::string& path, std::vector<std::string>& errors) {
  for (const auto& rule : section.checks()) {
    config::Problems problems;
    rule(problems);
    for (const auto& [key, message] : problems.list()) {
      errors.push_back(join_path(path, key) + ": " + message);
    }
  }
}

void read_collection(const Collection& c, const YAML::Node& node, const std::string& path,
                     std::vector<std::string>& errors) {
  switch (c.shape) {
    case Collection::Shape::kList: {
      if (!node.IsSequence()) {
        errors.push_back(path + ": expected a list");
        return;
      }
      c.clear();
      for (size_t i = 0; i < node.size(); ++i) {
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        c.add("", [&](Section& s) { read_section(s, node[i], item_path, errors); });
      }
      return;
    }
    case Collection::Shape::kMap: {
      if (!node.IsMap()) {
        errors.push_back(path + ": expected a mapping");
        return;
      }
      c.clear();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          errors.push_back(path + ": a key must be a string");
          continue;
        }
        const std::string name = kv.first.Scalar();
        const std::string item_path = join_path(path, name);
        const YAML::Node value = kv.second;
        auto why = c.add(name, [&](Section& s) { read_section(s, value, item_path, errors); });
        if (!why.empty()) errors.push_back(item_path + ": " + why);
      }
      return;
    }
    case Collection::Shape::kOptional:
      c.add("", [&](Section& s) { read_section(s, node, path, errors); });
      return;
  }
}

// A scalar as YAML text on one line.
std::string scalar_text(const std::string& s, bool quoted) {
  YAML::Emitter e;
  if (quoted || s.empty()) e << YAML::DoubleQuoted;
  e << s;
  return e.c_str();
}

void emit_value(YAML::Emitter& out, const Key& key, const Value& v, bool hide_secrets) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (key.type == Type::kSecret && hide_secrets && !s->empty()) {
      out << YAML::DoubleQuoted << "<hidden>";
    } else if (key.quoted || s->empty() || key.type == Type::kSecret) {
      out << YAML::DoubleQuoted << *s;
    } else {
      out << *s;
    }
  } else if (const auto* list = std::get_if<std::vector<std::string>>(&v)) {
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& item : *list) out << item;
    out << YAML::EndSeq;
  } else if (const auto* map = std::get_if<config::ListMap>(&v)) {
    out << YAML::BeginMap;
    for (const auto& [name, list] : *map) {
      out << YAML::Key << name << YAML::Value << YAML::Flow << list;
    }
    out << YAML::EndMap;
  }
}

std::string value_text(const Key& key, const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (key.type == Type::kSecret && !s->empty()) return scalar_text("<hidden>", true);
    return scalar_text(*s, key.quoted || key.type == Type::kSecret);
  }
  YAML::Emitter e;
  e << YAML::Flow;
  emit_value(e, key, v, true);
  return e.c_str();
}

// The key's value when it is rendered.
std::optional<Value> visible(const Key& key) {
  if (key.shown && !key.shown()) return std::nullopt;
  return key.get();
}

// Whether the section has anything to render (a section of unset optional keys does not).
bool has_content(const Section& section) {
  for (const auto& e : section.entries()) {
    if (e.key && visible(*e.key)) return true;
    if (e.section && has_content(*e.section)) return true;
    if (e.collection) {
      if (e.collection->shape != Collection::Shape::kOptional) return true;
      bool present = false;
      e.collection->each([&](const std::string&, Section&) { present = true; });
      if (present) return true;
    }
  }
  return false;
}

void emit_section(YAML::Emitter& out, const Section& section, bool flow, bool hide) {
  if (flow || section.is_flow()) out << YAML::Flow;
  out << YAML::BeginMap;
  for (const auto& e : section.entries()) {
    if (e.key) {
      auto v = visible(*e.key);
      if (!v) continue;
      out << YAML::Key << e.name << YAML::Value;
      emit_value(out, *e.key, *v, hide);
    } else if (e.section) {
      if (!has_content(*e.section)) continue;
      out << YAML::Key << e.name << YAML::Value;
      emit_section(out, *e.section, flow, hide);
    } else if (e.collection) {
      const Collection& c = *e.collection;
      size_t items = 0;
      c.each([&](const std::string&, Section&) { ++items; });
      if (items == 0 && c.shape != Collection::Shape::kOptional) {
        out << YAML::Key << e.name << YAML::Value << YAML::Flow;
        if (c.shape == Collection::Shape::kList) {
          out << YAML::BeginSeq << YAML::EndSeq;
        } else {
          out << YAML::BeginMap << YAML::EndMap;
        }
        continue;
      }
      switch (c.shape) {
        case Collection::Shape::kList:
          out << YAML::Key << e.name << YAML::Value << YAML::BeginSeq;
          c.each([&](const std::string&, Section& s) { emit_section(out, s, flow, hide); });
          out << YAML::EndSeq;
          break;
        case Collection::Shape::kMap:
          out << YAML::Key << e.name << YAML::Value << YAML::BeginMap;
          c.each([&](const std::string& name, Section& s) {
            out << YAML::Key << name << YAML::Value;
            emit_section(out, s, flow, hide);
          });
          out << YAML::EndMap;
          break;
        case Collection::Shape::kOptional:
          c.each([&](const std::string&, Section& s) {
            out << YAML::Key << e.name << YAML::Value;
            emit_section(out, s, flow, hide);
          });
          break;
      }
    }
  }
  out << YAML::EndMap;
}

std::string flow_text(const Section& s) {
  YAML::Emitter e;
  emit_section(e, s, true, true);
  return e.c_str();
}

// --- annotated YAML ------------------------------------------------------------------------------

constexpr size_t kCommentColumn = 27;
constexpr size_t kWidth = 100;

// Words of `text` in lines of at most `width` characters; "\n" breaks a line.
std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::stringstream paragraphs(text);
  for (std::string paragraph; std::getline(paragraphs, paragraph);) {
    std::stringstream words(paragraph);
    std::string line;
    for (std::string word; words >> word;) {
      if (!line.empty() && line.size() + 1 + word.size() > width) {
        lines.push_back(line);
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
    }
    lines.push_back(line);
  }
  return lines;
}

// A key's description, led by its choices unless the description names them all.
std::string key_comment(const Key& key) {
  if (key.type != Type::kChoice || key.range.empty()) return key.doc;
  std::stringstream choices(key.range);
  bool all_named = !key.doc.empty();
  for (std::string c; std::getline(choices, c, '|');) {
    c.erase(0, c.find_first_not_of(' '));
    c.erase(c.find_last_not_of(' ') + 1);
    if (!c.empty() && key.doc.find(c) == std::string::npos) all_named = false;
  }
  if (all_named) return key.doc;
  return key.doc.empty() ? key.range : key.range + "; " + key.doc;
}

class Annotator {
 public:
  explicit Annotator(std::ostringstream& out) : out_(out) {}

  void section(const Section& s, size_t indent) {
    for (const auto& e : s.entries()) entry(e, indent);
  }

 private:
  void comment_block(const std::string& text, size_t indent) {
    for (const auto& line : wrap(text, kWidth - indent - 2)) {
      out_ << std::string(indent, ' ') << "#" << (line.empty() ? "" : " ") << line << "\n";
    }
  }

  // `head` followed by the doc as a comment from the comment column, wrapped.
  void line(const std::string& head, const std::string& doc, const std::string& example) {
    const size_t indent = head.find_first_not_of(' ');
    size_t column = std::max(kCommentColumn, head.size() + 2);
    std::vector<std::string> comment;
    if (!doc.empty() && column + 2 + 30 > kWidth) {
      // No room beside a long line: the description goes above it.
      comment_block(doc, indent);
      column = std::max(kCommentColumn, indent + 2);
    } else if (!doc.empty()) {
      comment = wrap(doc, kWidth - column - 2);
    }
    if (!example.empty() && head.size() + 2 > column) column = indent + 2;
    if (comment.empty()) {
      out_ << head << "\n";
    } else {
      out_ << head << std::string(column - head.size(), ' ') << "# " << comment[0] << "\n";
      for (size_t i = 1; i < comment.size(); ++i) {
        out_ << std::string(column, ' ') << "# " << comment[i] << "\n";
      }
    }
    if (!example.empty()) {
      out_ << std::string(column, ' ') << "# for example:\n";
      std::stringstream lines(example);
      for (std::string l; std::getline(lines, l);) {
        out_ << std::string(column, ' ') << "#   " << l << "\n";
      }
    }
  }

  void entry(const Section::Entry& e, size_t indent) {
    const std::string pad(indent, ' ');
    const bool top = indent == 0;
    if (e.section && !e.section->note_text().empty()) {
      out_ << "\n";
      comment_block(e.section->note_text(), indent);
    } else if (top && !e.key) {
      out_ << "\n";
    }
    if (e.key) {
      auto v = visible(*e.key);
      if (!v) return;
      line(pad + e.name + ": " + value_text(*e.key, *v), key_comment(*e.key), e.example);
      return;
    }
    if (e.section) {
      if (!has_content(*e.section)) return;
      if (e.section->is_flow()) {
        line(pad + e.name + ": " + flow_text(*e.section), e.doc, e.example);
        return;
      }
      line(pad + e.name + ":", e.doc, e.example);
      section(*e.section, indent + 2);
      return;
    }
    const Collection& c = *e.collection;
    std::vector<std::pair<std::string, std::string>> items;  // name, flow text
    c.each([&](const std::string& name, Section& s) { items.emplace_back(name, flow_text(s)); });
    if (c.shape == Collection::Shape::kOptional) {
      c.each([&](const std::string&, Section& s) {
        line(pad + e.name + ":", e.doc, e.example);
        section(s, indent + 2);
      });
      return;
    }
    const bool list = c.shape == Collection::Shape::kList;
    if (items.empty()) {
      line(pad + e.name + (list ? ": []" : ": {}"), e.doc, e.example);
      return;
    }
    line(pad + e.name + ":", e.doc, e.example);
    for (const auto& [name, text] : items) {
      out_ << pad << "  " << (list ? "- " : scalar_text(name, false) + ": ") << text << "\n";
    }
  }

  std::ostringstream& out_;
};

// --- Markdown ----------------------------------------------------------------------------------

// Text in a table cell: pipes escaped, and angle brackets so that <name> is not taken for HTML.
std::string cell(const std::string& text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|') {
      out += "\\|";
    } else if (ch == '<') {
      out += "&lt;";
    } else if (ch == '>') {
      out += "&gt;";
    } else {
      out += ch == '\n' ? ' ' : ch;
    }
  }
  return out;
}

// A code span in a table cell (only pipes need escaping there).
std::string code(const std::string& text) {
  if (text.empty()) return "";
  std::string out = "`";
  for (char ch : text) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out + "`";
}

class Referencer {
 public:
  void rows(const Section& s, const std::string& path, bool defaults) {
    for (const auto& e : s.entries()) {
      const std::string p = join_path(path, e.name);
      if (!e.example.empty()) examples_.emplace_back(p, e.example);
      if (e.key) {
        if (!e.key->documented) continue;
        auto v = e.key->get();
        std::string shown = v ? value_text(*e.key, *v) : "";
        if (!defaults) shown.clear();
        std::string range = e.key->range;
        table_ << "| " << code(p) << " | " << config::type_name(e.key->type) << " | " << code(shown)
               << " | " << cell(range) << " | " << cell(e.doc) << " |\n";
      } else if (e.section) {
        table_ << "| " << code(p) << " | mapping |  |  | " << cell(e.doc) << " |\n";
        rows(*e.section, p, defaults);
      } else {
        const Collection& c = *e.collection;
        const char* kind = c.shape == Collection::Shape::kList  ? "list of mappings"
                           : c.shape == Collection::Shape::kMap ? "mapping of named mappings"
                                                                : "mapping (optional)";
        const std::string item = c.shape == Collection::Shape::kList  ? p + "[]"
                                 : c.shape == Collection::Shape::kMap ? p + ".<name>"
                                                                      : p;
        table_ << "| " << code(p) << " | " << kind << " |  |  | " << cell(e.doc) << " |\n";
        c.example([&](Section& item_section) {
          rows(item_section, item, c.shape != Collection::Shape::kOptional && !c.inherited);
        });
      }
    }
  }

  std::string take_table() {
    std::string t = table_.str();
    table_.str("");
    return t;
  }
  std::vector<std::pair<std::string, std::string>> take_examples() {
    return std::exchange(examples_, {});
  }

 private:
  std::ostringstream table_;
  std::vector<std::pair<std::string, std::string>> examples_;
};

constexpr const char* kTableHead =
    "| key | type | default | range | description |\n|---|---|---|---|---|\n";

}  // namespace

void read_section(const Section& section, const YAML::Node& node, const std::string& path,
                  std::vector<std::string>& errors) {
  const bool present = node.IsDefined() && !node.IsNull();
  if (present && !node.IsMap()) {
    errors.push_back((path.empty() ? std::string("(top level)") : path) +
                     ": expected a mapping of keys to values");
    return;
  }
  for (const auto& e : section.entries()) {
    const std::string key_path = join_path(path, e.name);
    YAML::Node child = present ? node[e.name] : YAML::Node();
    const bool has = child.IsDefined() && !child.IsNull();
    if (e.key) {
      if (!has) continue;
      std::string shape_error;
      Value v = to_value(child, e.key->type, &shape_error);
      std::string message = shape_error.empty() ? e.key->set(v) : shape_error;
      if (!message.empty()) errors.push_back(key_path + ": " + message);
    } else if (e.section) {
      read_section(*e.section, child, key_path, errors);
    } else if (e.collection && has) {
      read_collection(*e.collection, child, key_path, errors);
    }
  }
  if (present) {
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) {
        errors.push_back((path.empty() ? std::string("(top level)") : path) +
                         ": a key must be a string");
        continue;
      }
      const std::string key = kv.first.Scalar();
      if (section.find(key) == nullptr) errors.push_back(join_path(path, key) + ": unknown key");
    }
  }
  run_checks(section, path, errors);
}

void check_duplicate_keys(const YAML::Node& root, std::vector<std::string>& errors) {
  // An explicit stack, bounded in depth and in nodes: no recursion however deep a document nests,
  // and no endless walk of an alias that contains itself (`x: &a [*a]`). Configuration keys sit a
  // few levels down; past the bounds nothing is checked (read_section reports what it reads).
  constexpr size_t kMaxDepth = 32;
  constexpr size_t kMaxNodes = 100'000;
  struct Item {
    YAML::Node node;
    std::string path;
    size_t depth;
  };
  std::vector<Item> pending{{root, "", 0}};
  size_t visited = 0;
  while (!pending.empty() && ++visited <= kMaxNodes) {
    auto [node, path, depth] = std::move(pending.back());
    pending.pop_back();
    if (depth >= kMaxDepth) continue;
    if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        pending.push_back({node[i], path + "[" + std::to_string(i) + "]", depth + 1});
      }
    } else if (node.IsMap()) {
      std::map<std::string, int> first_line;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) continue;  // read_section reports it
        const std::string key_path = join_path(path, kv.first.Scalar());
        const int line = kv.first.Mark().line + 1;
        auto [it, fresh] = first_line.emplace(kv.first.Scalar(), line);
        if (!fresh) {
          errors.push_back(key_path + ": duplicate key at line " + std::to_string(line) +
                           " (first at line " + std::to_string(it->second) + ")");
          continue;
        }
        pending.push_back({kv.second, key_path, depth + 1});
      }
    }
  }
}

void render_section(const Section& section, YAML::Emitter& out, bool reveal_secrets) {
  emit_section(out, section, false, !reveal_secrets);
}

std::string annotated_yaml(const Section& section, const std::string& header) {
  std::ostringstream out;
  for (const auto& line : wrap(header, kWidth - 2)) {
    out << "#" << (line.empty() ? "" : " ") << line << "\n";
  }
  Annotator(out).section(section, 0);
  return out.str();
}

std::string markdown_reference(const Section& section, const std::string& intro) {
  std::ostringstream out;
  out << intro;
  // Top-level keys first, in one table.
  {
    std::ostringstream table;
    bool any = false;
    for (const auto& e : section.entries()) {
      if (!e.key || !e.key->documented) continue;
      any = true;
      auto v = e.key->get();
      table << "| " << code(e.name) << " | " << config::type_name(e.key->type) << " | "
            << code(v ? value_text(*e.key, *v) : "") << " | " << cell(e.key->range) << " | "
            << cell(e.doc) << " |\n";
    }
    if (any) out << "\n## Top level\n\n" << kTableHead << table.str();
  }
  for (const auto& e : section.entries()) {
    if (e.key) continue;
    out << "\n## `" << e.name << "`\n\n";
    Referencer r;
    if (e.section) {
      if (!e.section->note_text().empty()) out << e.section->note_text() << "\n\n";
      if (!e.doc.empty()) out << e.doc << "\n\n";
      r.rows(*e.section, e.name, true);
    } else {
      if (!e.doc.empty()) out << e.doc << "\n\n";
      // A top-level collection: document its items as rows.
      const Collection& c = *e.collection;
      const std::string item = c.shape == Collection::Shape::kList  ? e.name + "[]"
                               : c.shape == Collection::Shape::kMap ? e.name + ".<name>"
                                                                    : e.name;
      c.example([&](Section& s) {
        r.rows(s, item, c.shape != Collection::Shape::kOptional && !c.inherited);
      });
      if (!e.example.empty()) {
        out << "Example:\n\n```yaml\n" << e.example << "\n```\n\n";
      }
    }
    out << kTableHead << r.take_table();
    for (const auto& [path, example] : r.take_examples()) {
      out << "\nExample (`" << path << "`):\n\n```yaml\n" << example << "\n```\n";
    }
  }
  return out.str();
}

}  // namespace verity::app
