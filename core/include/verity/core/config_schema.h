#pragma once

// Config keys, declared once beside the component they configure (Fluent Bit's config map): each
// key has a name, a type, a default (the value bound when it is declared), a range and a
// description. app/ composes the components' declarations into the file's schema; parsing,
// rendering (`check-config --print`), config/verity.yaml and docs/configuration.md all come from
// them (app/src/config_engine.cpp). Nothing here reads YAML: a value crosses as text.
//
// A declaration binds keys to the fields of an options struct by reference:
//
//   void declare_keys(config::Section& s, TcpInputOptions& o) {
//     s.size("max_line", o.max_line, {1_KiB, 64_MiB}, "longer lines are rejected");
//     s.check([&o](config::Problems& p) { ... });  // rules that span keys
//   }
//
// Reading sets the fields; rendering and documenting read them. A declaration is run again for
// every use, so the references never outlive the struct.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "verity/core/units.h"

namespace verity::config {

enum class Type {
  kString,
  kSecret,  // a string never rendered (check-config --print shows <hidden>)
  kBool,
  kCount,
  kNumber,
  kDuration,
  kSize,
  kHostPort,
  kChoice,
  kStrings,  // a list of strings (a single string is a list of one)
  kListMap,  // a mapping of user-named keys to lists of strings
};

std::string_view type_name(Type t);

using ListMap = std::vector<std::pair<std::string, std::vector<std::string>>>;
// A value as configuration text: a scalar, a list, or a mapping of lists (kListMap).
using Value = std::variant<std::string, std::vector<std::string>, ListMap>;

// One key. `get` is nullopt for a value that is not rendered (an unset optional, a per-model field
// equal to the default); `set` returns "" or what is wrong with the value.
struct Key {
  std::string name;
  Type type = Type::kString;
  std::string doc;
  std::string range;    // "1 to 64", "1KiB to 64MiB", "inferred | binary": shown in the docs
  bool quoted = false;  // rendered double-quoted
  std::function<std::optional<Value>()> get;
  // Null, or whether the value is rendered (the docs show it regardless).
  std::function<bool()> shown;
  std::function<std::string(const Value&)> set;
  // False for a key declared only to refuse it with a reason (`models.<name>.fields.model_name`):
  // the docs leave it out.
  bool documented = true;
};

// What a check found: problems by key, relative to the section being checked.
class Problems {
 public:
  void add(std::string_view key, std::string message) {
    list_.emplace_back(std::string(key), std::move(message));
  }
  const std::vector<std::pair<std::string, std::string>>& list() const { return list_; }

 private:
  std::vector<std::pair<std::string, std::string>> list_;
};

class Section;

// A collection of sections: a list of mappings (rules), user-named mappings (models, features) or
// an optional mapping (models.<name>.fields). The engine reads, renders and documents it through
// these functions without knowing the item type.
struct Collection {
  enum class Shape { kList, kMap, kOptional };
  Shape shape = Shape::kList;
  // Replaces the contents before a read (lists are replaced; maps and optionals merge).
  std::function<void()> clear;
  // Adds an item named `name` (maps) and fills it: `fill` reads the item's keys. Returns "" or why
  // the name is refused.
  std::function<std::string(const std::string& name, const std::function<void(Section&)>& fill)>
      add;
  // The items start from what `init` gives them (e.g. a top-level setting), not from their
  // declared defaults: the docs show none.
  bool inherited = false;
  // Visits every item present.
  std::function<void(const std::function<void(const std::string& name, Section&)>&)> each;
  // Declares a default item, for the docs.
  std::function<void(const std::function<void(Section&)>&)> example;
};

// A mapping of keys, nested sections and collections, in declaration order.
class Section {
 public:
  struct Entry {
    std::string name;
    std::string doc;
    std::string example;  // YAML shown under the entry in the docs and config/verity.yaml
    std::optional<Key> key;
    std::unique_ptr<Section> section;
    std::unique_ptr<Collection> collection;
  };

  explicit Section(std::string doc = "") : doc_(std::move(doc)) {}
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;

  // Keys. Ranges are inclusive; a value out of range names its range in the error.
  Section& text(std::string_view name, std::string& v, std::string_view doc);
  Section& secret(std::string_view name, std::string& v, std::string_view doc);
  Section& flag(std::string_view name, bool& v, std::string_view doc);
  template <class Int>
  Section& count(std::string_view name, Int& v, uint64_t min, uint64_t max, std::string_view doc);
  Section& number(std::string_view name, double& v, std::string_view doc);
  Section& duration(std::string_view name, Duration& v, Duration min, std::string_view doc);
  Section& size(std::string_view name, ByteSize& v, ByteSize min, ByteSize max,
                std::string_view doc);
  // A size held as a plain integer of bytes.
  template <class Int>
  Section& size(std::string_view name, Int& v, ByteSize min, ByteSize max, std::string_view doc);
  Section& host_port(std::string_view name, HostPort& v, std::string_view doc);
  Section& strings(std::string_view name, std::vector<std::string>& v, std::string_view doc);
  Section& choice(std::string_view name, std::string& v, std::vector<std::string> choices,
                  std::string_view doc);
  template <class E>
  Section& choice(std::string_view name, E& v, std::vector<std::pair<std::string, E>> choices,
                  std::string_view doc);
  // A choice that may be left unset (nullopt), written `unset` ("inferred").
  template <class E>
  Section& choice(std::string_view name, std::optional<E>& v, std::string_view unset,
                  std::vector<std::pair<std::string, E>> choices, std::string_view doc);
  // Anything else: the caller converts to and from text.
  Section& custom(Key key);

  // A nested mapping.
  Section& child(std::string_view name, std::string_view doc = "");
  // A list of mappings, each declared by `declare` (replaces the default list when present).
  template <class T>
  Section& list(std::string_view name, std::vector<T>& v,
                std::type_identity_t<std::function<void(Section&, T&)>> declare,
                std::string_view doc);
  // User-named mappings. `init` prepares a new item (e.g. from the defaults) and may refuse its
  // name by returning why.
  template <class M, class T = typename M::mapped_type>
  Section& map(
      std::string_view name, M& m, std::type_identity_t<std::function<void(Section&, T&)>> declare,
      std::string_view doc,
      std::type_identity_t<std::function<std::string(const std::string&, T&)>> init = nullptr);
  // A mapping that is there or not (rendered only when there).
  template <class T>
  Section& optional(std::string_view name, std::optional<T>& o,
                    std::type_identity_t<std::function<T()>> init,
                    std::type_identity_t<std::function<void(Section&, T&)>> declare,
                    std::string_view doc);

  // Renders the key declared last only while `shown` holds (a parameter its mode does not use,
  // left at its default, stays out of the way). Reading is unchanged.
  Section& shown_when(std::function<bool()> shown);
  // A rule across keys, run after the section is read; problems name keys of this section.
  Section& check(std::function<void(Problems&)> rule);
  // Rendered on one line ({a: 1, b: 2}).
  Section& flow() {
    flow_ = true;
    return *this;
  }
  // An example for the entry declared last (a collection's items, a key's other forms).
  Section& example(std::string_view yaml) {
    if (!entries_.empty()) entries_.back().example = std::string(yaml);
    return *this;
  }
  // Prose for the whole section (config/verity.yaml prints it above the section's key).
  Section& note(std::string_view text) {
    note_ = std::string(text);
    return *this;
  }

  const std::vector<Entry>& entries() const { return entries_; }
  const std::vector<std::function<void(Problems&)>>& checks() const { return checks_; }
  const std::string& doc() const { return doc_; }
  const std::string& note_text() const { return note_; }
  bool is_flow() const { return flow_; }
  // The declared entry called `name`, or null.
  const Entry* find(std::string_view name) const;

 private:
  Entry& add(std::string_view name, std::string_view doc);

  std::string doc_;
  std::string note_;
  bool flow_ = false;
  std::vector<Entry> entries_;
  std::vector<std::function<void(Problems&)>> checks_;
};

// --- helpers the templates use ------------------------------------------------------------------

// "" when `text` is a whole number in [min, max], else the message.
std::string parse_count(std::string_view text, uint64_t min, uint64_t max, uint64_t& out);
std::string parse_size(std::string_view text, ByteSize min, ByteSize max, ByteSize& out);
std::string range_text(ByteSize min, ByteSize max);
std::string choice_list(const std::vector<std::string>& names);   // "a, b, c"
std::string choice_range(const std::vector<std::string>& names);  // "a | b | c"

const std::string* scalar_of(const Value& v);
// A double as text that reads back as the same double ("10", "0.1").
std::string format_number(double v);

template <class Int>
Section& Section::count(std::string_view name, Int& v, uint64_t min, uint64_t max,
                        std::string_view doc) {
  Key k;
  k.name = std::string(name);
  k.type = Type::kCount;
  k.doc = std::string(doc);
  k.range = max == UINT64_MAX ? "at least " + std::to_string(min)
                              : std::to_string(min) + " to " + std::to_string(max);
  k.get = [&v]() -> std::optional<Value> { return std::to_string(v); };
  k.set = [&v, min, max](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    if (s == nullptr) return "expected a whole number";
    uint64_t n = 0;
    if (auto e = parse_count(*s, min, max, n); !e.empty()) return e;
    v = static_cast<Int>(n);
    return "";
  };
  return custom(std::move(k));
}

template <class Int>
Section& Section::size(std::string_view name, Int& v, ByteSize min, ByteSize max,
                       std::string_view doc) {
  Key k;
  k.name = std::string(name);
  k.type = Type::kSize;
  k.doc = std::string(doc);
  k.range = range_text(min, max);
  k.get = [&v]() -> std::optional<Value> {
    return format_byte_size(ByteSize{static_cast<uint64_t>(v)});
  };
  k.set = [&v, min, max](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    if (s == nullptr) return "expected a size such as 64KiB or 1MiB";
    ByteSize b;
    if (auto e = parse_size(*s, min, max, b); !e.empty()) return e;
    v = static_cast<Int>(b.bytes);
    return "";
  };
  return custom(std::move(k));
}

template <class E>
Section& Section::choice(std::string_view name, E& v,
                         std::vector<std::pair<std::string, E>> choices, std::string_view doc) {
  std::vector<std::string> names;
  for (const auto& c : choices) names.push_back(c.first);
  Key k;
  k.name = std::string(name);
  k.type = Type::kChoice;
  k.doc = std::string(doc);
  k.range = choice_range(names);
  k.get = [&v, choices]() -> std::optional<Value> {
    for (const auto& c : choices) {
      if (c.second == v) return c.first;
    }
    return choices.front().first;
  };
  k.set = [&v, choices, names](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    for (const auto& c : choices) {
      if (s != nullptr && c.first == *s) {
        v = c.second;
        return "";
      }
    }
    return "must be one of: " + choice_list(names);
  };
  return custom(std::move(k));
}

template <class E>
Section& Section::choice(std::string_view name, std::optional<E>& v, std::string_view unset,
                         std::vector<std::pair<std::string, E>> choices, std::string_view doc) {
  std::vector<std::string> names{std::string(unset)};
  for (const auto& c : choices) names.push_back(c.first);
  Key k;
  k.name = std::string(name);
  k.type = Type::kChoice;
  k.doc = std::string(doc);
  k.range = choice_range(names);
  k.get = [&v, choices, none = std::string(unset)]() -> std::optional<Value> {
    if (v) {
      for (const auto& c : choices) {
        if (c.second == *v) return c.first;
      }
    }
    return none;
  };
  k.set = [&v, choices, names](const Value& value) -> std::string {
    const std::string* s = scalar_of(value);
    if (s != nullptr && *s == names.front()) {
      v.reset();
      return "";
    }
    for (const auto& c : choices) {
      if (s != nullptr && c.first == *s) {
        v = c.second;
        return "";
      }
    }
    return "must be one of: " + choice_list(names);
  };
  return custom(std::move(k));
}

template <class T>
Section& Section::list(std::string_view name, std::vector<T>& v,
                       std::type_identity_t<std::function<void(Section&, T&)>> declare,
                       std::string_view doc) {
  auto c = std::make_unique<Collection>();
  c->shape = Collection::Shape::kList;
  c->clear = [&v] { v.clear(); };
  c->add = [&v, declare](const std::string&,
                         const std::function<void(Section&)>& fill) -> std::string {
    T item{};
    {
      Section s;
      declare(s, item);
      fill(s);
    }
    v.push_back(std::move(item));
    return "";
  };
  c->each = [&v, declare](const std::function<void(const std::string&, Section&)>& visit) {
    for (size_t i = 0; i < v.size(); ++i) {
      Section s;
      declare(s, v[i]);
      visit(std::to_string(i), s);
    }
  };
  c->example = [declare](const std::function<void(Section&)>& visit) {
    T item{};
    Section s;
    declare(s, item);
    visit(s);
  };
  add(name, doc).collection = std::move(c);
  return *this;
}

template <class M, class T>
Section& Section::map(
    std::string_view name, M& m, std::type_identity_t<std::function<void(Section&, T&)>> declare,
    std::string_view doc,
    std::type_identity_t<std::function<std::string(const std::string&, T&)>> init) {
  auto c = std::make_unique<Collection>();
  c->shape = Collection::Shape::kMap;
  c->inherited = static_cast<bool>(init);
  c->clear = [] {};
  c->add = [&m, declare, init](const std::string& key,
                               const std::function<void(Section&)>& fill) -> std::string {
    T item{};
    if (init) {
      if (auto why = init(key, item); !why.empty()) return why;
    }
    {
      Section s;
      declare(s, item);
      fill(s);
    }
    m[key] = std::move(item);
    return "";
  };
  c->each = [&m, declare](const std::function<void(const std::string&, Section&)>& visit) {
    for (auto& [key, item] : m) {
      Section s;
      declare(s, item);
      visit(key, s);
    }
  };
  c->example = [declare](const std::function<void(Section&)>& visit) {
    T item{};
    Section s;
    declare(s, item);
    visit(s);
  };
  add(name, doc).collection = std::move(c);
  return *this;
}

template <class T>
Section& Section::optional(std::string_view name, std::optional<T>& o,
                           std::type_identity_t<std::function<T()>> init,
                           std::type_identity_t<std::function<void(Section&, T&)>> declare,
                           std::string_view doc) {
  auto c = std::make_unique<Collection>();
  c->shape = Collection::Shape::kOptional;
  c->clear = [] {};
  c->add = [&o, init, declare](const std::string&,
                               const std::function<void(Section&)>& fill) -> std::string {
    if (!o) o = init();
    Section s;
    declare(s, *o);
    fill(s);
    return "";
  };
  c->each = [&o, declare](const std::function<void(const std::string&, Section&)>& visit) {
    if (!o) return;
    Section s;
    declare(s, *o);
    visit("", s);
  };
  c->example = [init, declare](const std::function<void(Section&)>& visit) {
    T item = init();
    Section s;
    declare(s, item);
    visit(s);
  };
  add(name, doc).collection = std::move(c);
  return *this;
}

}  // namespace verity::config
