#include "verity/ingest/document_decoder.h"

#include <algorithm>
#include <deque>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

#include <simdjson.h>

#include "masker_impl.h"
#include "verity/core/http.h"

#include "verity/core/sha256.h"
#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"

namespace verity::ingest {
namespace od = simdjson::ondemand;

namespace {

// A member name as a JSON pointer segment, for error messages (defined below).
void append_pointer_token(std::string& out, std::string_view token);

// A trie over the member names of every configured pointer. Node 0 is the document root.
struct TrieNode {
  std::vector<std::pair<std::string, uint32_t>> children;
  std::vector<std::pair<document::Field, uint8_t>>
      leaves;                     // field captured here, and the pointer's priority
  uint8_t inputs_priority = 255;  // of the inputs pointer ending here (255: none)
  bool quality = false;           // a field model quality reads ends here
};

// The fields model quality reads (ObservedFields).
bool quality_field(document::Field f) {
  return f == document::Field::kPredictedValue || f == document::Field::kOutputs ||
         f == document::Field::kConfidence || f == document::Field::kInputs;
}

class PointerTrie {
 public:
  explicit PointerTrie(const document::FieldMapping& m) : nodes_(1) {
    for (size_t f = 0; f < document::kFieldCount; ++f) {
      const auto& ptrs = m.pointers(static_cast<document::Field>(f));
      for (size_t prio = 0; prio < ptrs.size() && prio < 255; ++prio) {
        uint32_t n = 0;
        for (const std::string& tok : ptrs[prio].tokens) n = child_or_add(n, tok);
        nodes_[n].leaves.emplace_back(static_cast<document::Field>(f), static_cast<uint8_t>(prio));
        if (!quality_field(static_cast<document::Field>(f))) continue;
        nodes_[n].quality = true;
        if (static_cast<document::Field>(f) == document::Field::kInputs) {
          nodes_[n].inputs_priority =
              std::min(nodes_[n].inputs_priority, static_cast<uint8_t>(prio));
        }
        // The walk captures what it reaches through objects: a pointer through an array index or
        // past the 255th (or to the root, which parse_json_pointer refuses) is read by a DOM but
        // not captured.
        if (ptrs.size() >= 255 || ptrs[prio].tokens.empty()) observable_ = false;
        for (const std::string& tok : ptrs[prio].tokens) {
          if (tok == "-" || (!tok.empty() && std::all_of(tok.begin(), tok.end(), [](char c) {
                return c >= '0' && c <= '9';
              }))) {
            observable_ = false;
          }
        }
      }
    }
  }
  // Whether what the walk captures of model quality's fields is what a DOM reads at them.
  bool observable() const { return observable_; }
  const TrieNode* root() const { return &nodes_[0]; }
  const TrieNode* child(const TrieNode* n, std::string_view key) const {
    for (const auto& [k, idx] : n->children) {
      if (k == key) return &nodes_[idx];
    }
    return nullptr;
  }

 private:
  uint32_t child_or_add(uint32_t n, const std::string& key) {
    for (const auto& [k, idx] : nodes_[n].children) {
      if (k == key) return idx;
    }
    nodes_.emplace_back();
    const auto idx = static_cast<uint32_t>(nodes_.size() - 1);
    nodes_[n].children.emplace_back(key, idx);
    return idx;
  }
  std::vector<TrieNode> nodes_;
  bool observable_ = true;
};

struct Captured {
  bool present = false;
  uint8_t priority = 255;
  od::json_type type = od::json_type::null;
  std::string_view str;  // string value, or the raw token of a number; valid until the next parse
  double number = 0;
  bool is_integer = false;  // integer syntax (no fraction, no exponent)
  bool big = false;         // an integer past 64 bits (`integer` and `number` are not its value)
  int64_t integer = 0;
  int32_t pii = -1;  // index of the PII candidate holding this value, when masking may change it
};

struct Capture {
  std::array<Captured, document::kFieldCount> fields;
  // For model quality (ObservedFields), what a DOM's first_value and number reads find: the first
  // scalar (not null, object or array) of the predicted value and of the outputs, and the first
  // number of the confidence.
  Captured predicted_scalar, outputs_scalar, confidence_number;
  Captured& operator[](document::Field f) { return fields[static_cast<size_t>(f)]; }
};

bool is_scalar(od::json_type t) {
  return t == od::json_type::number || t == od::json_type::string || t == od::json_type::boolean;
}

ObservedFields::Type observed_type(od::json_type t) {
  switch (t) {
    case od::json_type::number:
      return ObservedFields::Type::kNumber;
    case od::json_type::string:
      return ObservedFields::Type::kString;
    case od::json_type::boolean:
      return ObservedFields::Type::kBoolean;
    case od::json_type::array:
      return ObservedFields::Type::kArray;
    case od::json_type::object:
      return ObservedFields::Type::kObject;
    default:
      return ObservedFields::Type::kNull;
  }
}

}  // namespace

// A change to the original text: [from, to) becomes `text` (a deletion when empty).
struct Edit {
  size_t from = 0;
  size_t to = 0;
  std::string text;
};

// A string (or integer token) that may hold something a detector matches: its token in the
// original text, and where its (unescaped) text sits in the buffer scanned for the whole document.
struct PiiCandidate {
  size_t from = 0;
  size_t to = 0;
  size_t text_at = 0;
  size_t text_len = 0;
  bool key = false;   // a member name: matches are hashed whatever the detector's action, so the
                      // object keeps distinct names
  bool skip = false;  // left alone: an identity field's value, or the key of a dropped member
};

// Masking state for one walk of one document. Masking never rewrites the document while walking
// it: rules and detectors produce edits against the original bytes, spliced in at the end, so an
// unmasked document is stored exactly as sent.
struct MaskCtx {
  const Masker::Impl& mi;
  const Masker::Policy& policy;
  Masker::Scratch& s;
  od::document& doc;
  std::string_view json;  // the original document
  std::vector<Edit>& edits;
  std::vector<PiiCandidate>& pii;
  std::string& scan_text;  // candidate texts joined by '\n'
};

struct DocumentDecoder::Impl {
  std::shared_ptr<const document::FieldMappingSet> mappings;
  std::shared_ptr<const Masker> masker;
  const Clock& clock;
  DecoderLimits limits;
  od::parser parser;
  PointerTrie default_trie;
  std::vector<std::pair<std::string, PointerTrie>> model_tries;
  std::string padded;  // scratch copy when the caller cannot guarantee padding
  Masker::ScratchPtr mscratch;
  std::string out;  // the masked document, when anything was masked
  std::vector<Edit> edits;
  std::vector<PiiCandidate> pii;
  std::string scan_text;
  std::vector<std::string_view> path;    // member names / indices from the root to the value
  std::vector<std::string> index_names;  // array indices in `path`, by depth; never reallocated
  // Member names of the object being walked at each depth: a name twice is refused (Verity would
  // read the first where Python, Node and Elasticsearch's readers take the last).
  std::vector<std::vector<std::string_view>> names_at;
  std::vector<std::unordered_set<std::string_view>> many_names_at;  // objects of over 32 members
  bool duplicate = false;                 // the last parse stopped at a name given twice
  bool masking_failed = false;            // the last parse could not run the detectors
  std::string duplicate_path;             // its JSON pointer (names that may be PII written as "*")
  std::deque<std::string> masked_values;  // storage for captured masked strings
  // What the walk saw for model quality (ObservedFields); reset by each parse.
  struct Observation {
    bool beyond_64_bits = false;    // an integer past 64 bits: a DOM reads no such document
    bool unreliable = false;        // masking changed something model quality reads
    uint8_t inputs_priority = 255;  // of the inputs object whose members are recorded
    int recording_depth = -1;       // that object's depth while it is walked
    size_t inputs_from = 0;         // its bytes in the original document (masked walks)
    size_t inputs_to = 0;
    std::vector<std::tuple<std::string_view, od::json_type, double>> members;
  } obs;
  od::json_type last_type = od::json_type::null;  // of the value walk() visited last
  double last_number = 0;

  Impl(std::shared_ptr<const document::FieldMappingSet> m, std::shared_ptr<const Masker> mk,
       const Clock& c, DecoderLimits l)
      : mappings(std::move(m)),
        masker(std::move(mk)),
        clock(c),
        limits(l),
        parser(l.max_document_bytes + kJsonPadding),
        default_trie(mappings->default_mapping) {
    for (const auto& [model, mapping] : mappings->per_model)
      model_tries.emplace_back(model, mapping);
    if (masker) mscratch = masker->make_scratch();
    // Sized once: `path` holds views into these strings, so the vector must never reallocate.
    index_names.resize(static_cast<size_t>(limits.max_depth) + 2);
    names_at.resize(static_cast<size_t>(limits.max_depth) + 2);
    many_names_at.resize(static_cast<size_t>(limits.max_depth) + 2);
  }

  const PointerTrie* trie_for(std::string_view model) const {
    for (const auto& [name, trie] : model_tries) {
      if (name == model) return &trie;
    }
    return nullptr;
  }

  static std::string_view trim(std::string_view raw) {
    while (!raw.empty() &&
           (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' || raw.back() == '\r')) {
      raw.remove_suffix(1);
    }
    return raw;
  }

  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  std::string_view keep(std::string s) {
    masked_values.push_back(std::move(s));
    return masked_values.back();
  }

  static void capture(const TrieNode* node, Captured& value, od::json_type type, Capture& cap) {
    if (node == nullptr || node->leaves.empty()) return;
    value.present = true;
    value.type = type;
    for (const auto& [f, prio] : node->leaves) {
      Captured& c = cap[f];
      if (!c.present || prio < c.priority) {
        c = value;
        c.priority = prio;
      }
    }
    if (node->quality) capture_quality(node, value, type, cap);
  }

  // What model quality reads differs from the capture where a pointer holds null, an object or an
  // array (first_value passes over them) or anything but a number (the confidence).
  static void capture_quality(const TrieNode* node, const Captured& value, od::json_type type,
                              Capture& cap) {
    auto better = [&](Captured& c, uint8_t prio) {
      if (!c.present || prio < c.priority) {
        c = value;
        c.priority = prio;
      }
    };
    for (const auto& [f, prio] : node->leaves) {
      if (f == document::Field::kPredictedValue && is_scalar(type)) {
        better(cap.predicted_scalar, prio);
      } else if (f == document::Field::kOutputs && is_scalar(type)) {
        better(cap.outputs_scalar, prio);
      } else if (f == document::Field::kConfidence && type == od::json_type::number) {
        better(cap.confidence_number, prio);
      }
    }
  }

  // The end of the value just walked (its last byte + 1), from the position of the next token.
  static const char* value_end(MaskCtx& m) {
    const char* next = nullptr;
    if (m.doc.current_location().get(next) != simdjson::SUCCESS) {
      next = m.json.data() + m.json.size();
    }
    while (next > m.json.data() && is_space(next[-1])) --next;
    return next;
  }

  // Deletes the member or element [start, end) together with one separating comma: the one before
  // it when a kept sibling comes before it (,"z":9 -> gone), else the one after it ("a":1, ->
  // gone). Each drop takes a comma of its own, so neighbouring drops never leave "[10,]".
  static void drop(MaskCtx& m, const char* start, const char* end, bool kept_before) {
    const char* base = m.json.data();
    size_t from = static_cast<size_t>(start - base), to = static_cast<size_t>(end - base);
    if (kept_before) {
      size_t b = from;
      while (b > 0 && is_space(base[b - 1])) --b;
      if (b > 0 && base[b - 1] == ',') from = b - 1;
    } else {
      size_t k = to;
      while (k < m.json.size() && is_space(base[k])) ++k;
      if (k < m.json.size() && base[k] == ',') to = k + 1;
    }
    m.edits.push_back({from, to, std::string()});
  }

  void add_candidate(MaskCtx& m, std::string_view token, std::string_view text, Captured& c) {
    const auto from = static_cast<size_t>(token.data() - m.json.data());
    c.pii = static_cast<int32_t>(m.pii.size());
    m.pii.push_back({from, from + token.size(), m.scan_text.size(), text.size()});
    m.scan_text.append(text);
    m.scan_text += '\n';
  }

  // A member name that may hold something a detector matches (an email or a card number used as
  // a key): its token runs from the opening quote at `quote` to the closing one.
  static size_t add_key_candidate(MaskCtx& m, const char* quote, std::string_view key) {
    const char* end = m.json.data() + m.json.size();
    const char* p = quote + 1;
    while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;  // the document is valid JSON here
    const auto from = static_cast<size_t>(quote - m.json.data());
    const size_t to = std::min(static_cast<size_t>(p + 1 - m.json.data()), m.json.size());
    const size_t index = m.pii.size();
    m.pii.push_back({from, to, m.scan_text.size(), key.size(), true, false});
    m.scan_text.append(key);
    m.scan_text += '\n';
    return index;
  }

  // Applies rule `rule` to the value `v` as a whole. A dropped value reports its end in `end`.
  simdjson::error_code apply_rule(od::value v, od::json_type type, int rule, int depth,
                                  const TrieNode* node, Capture& cap, MaskCtx& m, bool& dropped,
                                  const char*& end) {
    const std::string_view token = trim(v.raw_json_token());
    const char* start = token.data();
    std::string text;
    bool is_string = false, is_number = false;
    if (node != nullptr && node->quality) obs.unreliable = true;  // its type may change
    last_type = type;
    // Validation judges the document as sent: the capture keeps the original type (and number),
    // with the masked text.
    Captured c;
    switch (type) {
      case od::json_type::string: {
        std::string_view sv;
        if (auto e = v.get_string().get(sv)) return e;
        text.assign(sv);
        is_string = true;
        end = start + token.size();
        break;
      }
      case od::json_type::number: {
        od::number n;
        const bool integer_syntax = token.find_first_of(".eE") == std::string_view::npos;
        if (auto e = v.get_number().get(n)) {
          if (e != simdjson::NUMBER_ERROR || !document::is_big_integer(token)) return e;
          c.is_integer = true;
          c.big = true;
          obs.beyond_64_bits = true;
        } else {
          c.number = n.as_double();
          c.is_integer = integer_syntax;
          if (n.is_int64()) c.integer = n.get_int64();
          if (n.is_uint64()) c.big = true;
        }
        text.assign(token);
        is_number = true;
        end = start + token.size();
        break;
      }
      default: {
        // Validate the value; nothing under it is masked again. Its text is the original bytes.
        bool ignored = false;
        const char* ignored_end = nullptr;
        if (auto e =
                walk<false>(v, default_trie, nullptr, depth, cap, nullptr, ignored, ignored_end)) {
          return e;
        }
        end = type == od::json_type::object || type == od::json_type::array ? value_end(m)
                                                                            : start + token.size();
        text.assign(start, static_cast<size_t>(end - start));
      }
    }
    std::string replacement;
    if (!m.mi.apply_rule(m.policy, static_cast<size_t>(rule), text, is_string, is_number, m.s,
                         replacement)) {
      dropped = true;
      return simdjson::SUCCESS;
    }
    m.edits.push_back({static_cast<size_t>(start - m.json.data()),
                       static_cast<size_t>(end - m.json.data()), std::move(replacement)});
    c.str = keep(m.s.buf);
    capture(node, c, type, cap);
    return simdjson::SUCCESS;
  }

  // The members of an object at `depth` (themselves at depth + 1). Shared by walk() and the root.
  template <bool kMask>
  simdjson::error_code walk_members(od::object obj, const PointerTrie& trie, const TrieNode* node,
                                    int depth, Capture& cap, MaskCtx* m, uint64_t live) {
    if constexpr (!kMask) m = nullptr;
    auto& names = names_at[static_cast<size_t>(depth)];
    auto& many = many_names_at[static_cast<size_t>(depth)];
    names.clear();
    many.clear();
    bool kept_before = false;
    for (auto member : obj) {
      od::field field;
      if (auto e = std::move(member).get(field)) return e;
      const char* key_start = nullptr;
      if (m != nullptr) key_start = field.key().raw() - 1;  // the opening quote
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      if (names.size() < 32) {
        if (std::find(names.begin(), names.end(), key) != names.end()) return duplicate_name(key);
        names.push_back(key);
        if (names.size() == 32) many.insert(names.begin(), names.end());
      } else if (!many.insert(key).second) {
        return duplicate_name(key);
      }
      const TrieNode* child = node != nullptr ? trie.child(node, key) : nullptr;
      // Keys are scanned like values: PII in a member name is masked wherever the document goes.
      size_t key_candidate = SIZE_MAX;
      if (m != nullptr && m->policy.any_detector && m->mi.may_hold_pii(key)) {
        key_candidate = add_key_candidate(*m, key_start, key);
      }
      uint64_t child_live = 0;
      if (m != nullptr && live != 0) {
        child_live = Masker::Impl::advance(m->policy, live, path.size(), key);
        if (child_live != 0) path.push_back(key);
      }
      bool child_dropped = false;
      const char* child_end = nullptr;
      if (auto e = walk<kMask>(field.value(), trie, child, depth + 1, cap, m, child_dropped,
                               child_end, child_live)) {
        if (duplicate) prepend_name(key);
        return e;
      }
      if (m != nullptr) {
        if (child_live != 0) path.pop_back();
        if (child_dropped) {
          drop(*m, key_start, child_end, kept_before);
          if (key_candidate != SIZE_MAX) m->pii[key_candidate].skip = true;  // gone with it
        }
      }
      kept_before = kept_before || !child_dropped;
      if (depth == obs.recording_depth && !child_dropped) {
        obs.members.emplace_back(key, last_type, last_number);
      }
    }
    return simdjson::SUCCESS;
  }

  // A member name given twice: the walk stops, and each enclosing object or array prepends its
  // segment to duplicate_path on the way out.
  simdjson::error_code duplicate_name(std::string_view key) {
    duplicate = true;
    duplicate_path.clear();
    prepend_name(key);
    return simdjson::UNEXPECTED_ERROR;
  }
  void prepend_name(std::string_view key) {
    std::string segment;
    append_pointer_token(segment, key);
    duplicate_path.insert(0, segment);
  }

  // The elements of an array at `depth` (themselves at depth + 1).
  template <bool kMask>
  simdjson::error_code walk_elements(od::array arr, const PointerTrie& trie, int depth,
                                     Capture& cap, MaskCtx* m, uint64_t live) {
    if constexpr (!kMask) m = nullptr;
    size_t index = 0;
    bool kept_before = false;
    for (auto element : arr) {
      od::value ev;
      if (auto e = element.get(ev)) return e;
      const char* start = nullptr;
      uint64_t child_live = 0;
      if (m != nullptr && live != 0) {
        start = ev.raw_json_token().data();
        index_names[depth] = std::to_string(index);
        child_live = Masker::Impl::advance(m->policy, live, path.size(), index_names[depth]);
        if (child_live != 0) path.push_back(index_names[depth]);
      }
      ++index;
      bool child_dropped = false;
      const char* child_end = nullptr;
      if (auto e = walk<kMask>(ev, trie, nullptr, depth + 1, cap, m, child_dropped, child_end,
                               child_live)) {
        if (duplicate) duplicate_path.insert(0, "/" + std::to_string(index - 1));
        return e;
      }
      if (m != nullptr) {
        if (child_live != 0) path.pop_back();
        if (child_dropped) drop(*m, start, child_end, kept_before);
      }
      kept_before = kept_before || !child_dropped;
    }
    return simdjson::SUCCESS;
  }

  // Visits `v` and everything under it: validates, captures leaves of `node` (may be null) and,
  // with kMask, records masking edits and PII candidates in `m`. Sets `dropped` (and `end`, the
  // value's end) when a rule removed the value. Two instantiations keep the unmasked path as tight
  // as it was before masking existed.
  // `live`: the rules that may match this value or a value under it (see Masker::Impl::advance);
  // the path is only tracked while some rule is live.
  template <bool kMask>
  simdjson::error_code walk(od::value v, const PointerTrie& trie, const TrieNode* node, int depth,
                            Capture& cap, MaskCtx* m, bool& dropped, const char*& end,
                            uint64_t live = 0) {
    if constexpr (!kMask) m = nullptr;
    if (depth > limits.max_depth) return simdjson::DEPTH_ERROR;
    od::json_type type;
    if (auto e = v.type().get(type)) return e;
    if (m != nullptr && depth > 0 && live != 0) {  // rules never apply to the root
      const int rule = m->mi.match_rule(m->policy, live, path);
      if (rule >= 0) return apply_rule(v, type, rule, depth, node, cap, *m, dropped, end);
    }
    Captured scratch;
    switch (type) {
      case od::json_type::object: {
        // The members of the first inputs object are recorded for model quality.
        const uint8_t inputs = node != nullptr ? node->inputs_priority : 255;
        const bool record = inputs < obs.inputs_priority;
        const char* from = nullptr;
        if (record) {
          if (m != nullptr) from = v.raw_json_token().data();
          obs.inputs_priority = inputs;
          obs.members.clear();
          obs.recording_depth = depth;
        }
        od::object obj;
        if (auto e = v.get_object().get(obj)) return e;
        if (auto e = walk_members<kMask>(obj, trie, node, depth, cap, m, live)) return e;
        if (record) {
          obs.recording_depth = -1;
          if (m != nullptr && obs.inputs_priority == inputs) {  // not replaced by a nested one
            obs.inputs_from = static_cast<size_t>(from - m->json.data());
            obs.inputs_to = static_cast<size_t>(value_end(*m) - m->json.data());
          }
        }
        break;
      }
      case od::json_type::array: {
        od::array arr;
        if (auto e = v.get_array().get(arr)) return e;
        if (auto e = walk_elements<kMask>(arr, trie, depth, cap, m, live)) return e;
        break;
      }
      case od::json_type::string: {
        std::string_view raw;
        if (m != nullptr) raw = trim(v.raw_json_token());
        std::string_view str;
        if (auto e = v.get_string().get(str)) return e;
        scratch.str = str;
        if (m != nullptr && m->policy.any_detector && m->mi.may_hold_pii(str)) {
          add_candidate(*m, raw, str, scratch);
        }
        break;
      }
      case od::json_type::number: {
        const std::string_view raw = trim(v.raw_json_token());
        const bool integer_syntax = raw.find_first_of(".eE") == std::string_view::npos;
        od::number n;
        scratch.str = raw;
        if (auto e = v.get_number().get(n)) {
          // simdjson 3.0 reads no integer past 64 bits: valid JSON, kept as its digits. Any
          // other number it cannot read is invalid (01) or outside what a double holds (1e400).
          if (e != simdjson::NUMBER_ERROR || !document::is_big_integer(raw)) return e;
          scratch.is_integer = true;
          scratch.big = true;
          obs.beyond_64_bits = true;
        } else {
          scratch.number = n.as_double();
          scratch.is_integer = integer_syntax;
          if (n.is_int64()) scratch.integer = n.get_int64();
          if (n.is_uint64()) scratch.big = true;  // past int64: not an epoch time
        }
        // A number of more than 19 digits, or a decimal of 19, takes simdjson's slow path, where
        // On-Demand's get_number() and the DOM disagree (fuzz_observed: 1333...3332.5 with 120
        // digits, then 133333333333333332.5 with 19; On-Demand reads such decimals as 0): model
        // quality reads such a document with the DOM, as it stores it.
        const auto digits =
            std::count_if(raw.begin(), raw.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digits > 19 || (digits == 19 && !integer_syntax)) {
          obs.unreliable = true;
        }
        // Card numbers sent as JSON numbers are detected too (a masked number becomes a string).
        // Only integer tokens: the digits of 45.305734188037101 or 1e15 are no identifier, and
        // masking them would turn model outputs and scores into strings.
        if (m != nullptr && m->policy.any_detector && integer_syntax && m->mi.may_hold_pii(raw)) {
          add_candidate(*m, raw, raw, scratch);
        }
        break;
      }
      case od::json_type::boolean: {
        bool b;
        if (auto e = v.get_bool().get(b)) return e;
        scratch.number = b ? 1 : 0;
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null)) return e;
        if (!is_null) return simdjson::N_ATOM_ERROR;
        break;
      }
    }
    last_type = type;
    last_number = scratch.number;
    capture(node, scratch, type, cap);
    return simdjson::SUCCESS;
  }

  // After a masked walk: runs the detectors once over every candidate, turns their matches into
  // edits, gives masked captures their masked text, and splices the edits into `out`. Returns the
  // document to store: `json` itself when nothing changed.
  std::string_view finish_masking(MaskCtx& m, Capture& cap) {
    // The fields Verity maps as identity are never changed by detectors: an id that happens to
    // look like a card number or an SSN must be found, replayed and labelled as it was sent
    // (a rule that hashes the request id on purpose is applied before, and lookups hash too).
    for (document::Field f : {document::Field::kRequestId, document::Field::kTimestamp,
                              document::Field::kModelName, document::Field::kModelVersion}) {
      const Captured& c = cap[f];
      if (c.present && c.pii >= 0) m.pii[static_cast<size_t>(c.pii)].skip = true;
    }
    if (!m.pii.empty()) {
      if (!m.mi.scan(m.scan_text, m.s)) {
        masking_failed = true;
        return m.json;
      }
      std::vector<int32_t> masked_index(m.pii.size(), -1);
      std::vector<std::string> masked;
      size_t cursor = 0;
      std::string buf;
      for (size_t i = 0; i < m.pii.size(); ++i) {
        const PiiCandidate& c = m.pii[i];
        if (c.skip) continue;
        const std::string_view text(m.scan_text.data() + c.text_at, c.text_len);
        if (!m.mi.mask_span(m.policy, text, c.text_at, m.s, cursor, buf, c.key)) continue;
        std::string json_text;
        document::append_json_string(json_text, buf);
        m.edits.push_back({c.from, c.to, std::move(json_text)});
        masked_index[i] = static_cast<int32_t>(masked.size());
        masked.push_back(buf);
      }
      for (Captured& c : cap.fields) {
        if (c.present && c.pii >= 0 && masked_index[static_cast<size_t>(c.pii)] >= 0) {
          c.str = keep(masked[static_cast<size_t>(masked_index[static_cast<size_t>(c.pii)])]);
        }
      }
      // Model quality reads the captures only when masking left what it reads as it was: no
      // member name changed (one may be on a pointer's path), no read value masked.
      for (size_t i = 0; i < m.pii.size(); ++i) {
        if (masked_index[i] >= 0 && m.pii[i].key) obs.unreliable = true;
      }
      for (const Captured* c :
           {&cap.predicted_scalar, &cap.outputs_scalar, &cap.confidence_number}) {
        if (c->present && c->pii >= 0 && masked_index[static_cast<size_t>(c->pii)] >= 0) {
          obs.unreliable = true;
        }
      }
    }
    if (obs.inputs_priority != 255) {
      for (const Edit& e : m.edits) {
        if (e.from < obs.inputs_to && e.to > obs.inputs_from) obs.unreliable = true;
      }
    }
    if (m.edits.empty()) return m.json;
    std::sort(m.edits.begin(), m.edits.end(),
              [](const Edit& a, const Edit& b) { return a.from < b.from; });
    out.clear();
    out.reserve(m.json.size());
    size_t copied = 0;
    for (const Edit& e : m.edits) {
      // Deletions of neighbouring members may share a comma: overlapping edits merge.
      const size_t from = std::max(e.from, copied);
      if (from > copied) out.append(m.json.substr(copied, from - copied));
      if (e.to > copied) {
        out += e.text;
        copied = e.to;
      }
    }
    out.append(m.json.substr(copied));
    return out;
  }

  simdjson::error_code validate_non_object(od::document& doc, od::json_type type) {
    Capture ignored;
    switch (type) {
      case od::json_type::array: {
        // Through the document, not get_value(): simdjson checks the closing ']' of a root array
        // only there, and the iterators rely on that check to stay inside the input.
        od::array arr;
        if (auto e = doc.get_array().get(arr)) return e;
        if (auto e = walk_elements<false>(arr, default_trie, 0, ignored, nullptr, 0)) return e;
        break;
      }
      case od::json_type::string: {
        std::string_view s;
        if (auto e = doc.get_string().get(s)) return e;
        break;
      }
      case od::json_type::number: {
        od::number n;
        if (auto e = doc.get_number().get(n)) return e;
        break;
      }
      case od::json_type::boolean: {
        bool b;
        if (auto e = doc.get_bool().get(b)) return e;
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto e = doc.is_null().get(is_null)) return e;
        if (!is_null) return simdjson::N_ATOM_ERROR;
        break;
      }
      case od::json_type::object:
        break;
    }
    const char* loc = nullptr;
    if (doc.current_location().get(loc) == simdjson::SUCCESS) return simdjson::TRAILING_CONTENT;
    return simdjson::SUCCESS;
  }

  // Parses the whole document with `trie`. With `policy`, masks it: `stored` is then the document
  // to store (the original bytes when nothing was masked). Without, `stored` is the original.
  simdjson::error_code parse(simdjson::padded_string_view json, const PointerTrie& trie,
                             Capture& cap, bool& not_object, const Masker::Policy* policy,
                             std::string_view& stored) {
    const std::string_view original(json.data(), json.length());
    stored = original;
    duplicate = false;
    masking_failed = false;
    obs.beyond_64_bits = false;
    obs.unreliable = false;
    obs.inputs_priority = 255;
    obs.recording_depth = -1;
    obs.members.clear();
    od::document doc;
    if (auto e = parser.iterate(json).get(doc)) return e;
    od::json_type type;
    if (auto e = doc.type().get(type)) return e;
    if (type != od::json_type::object) {
      // Still tell invalid JSON ("nope") from valid JSON that is not an object ("[1]", "42").
      if (auto e = validate_non_object(doc, type)) return e;
      not_object = true;
      return simdjson::SUCCESS;
    }
    // Through the document, not get_value(): simdjson checks the closing '}' of the root object
    // only there, and the iterators rely on that check to stay inside the input (an unclosed
    // "[[[" or "{" would otherwise be read past its end).
    od::object root;
    if (auto e = doc.get_object().get(root)) return e;
    path.clear();
    if (policy == nullptr) {
      if (auto e = walk_members<false>(root, trie, trie.root(), 0, cap, nullptr, 0)) return e;
    } else {
      edits.clear();
      pii.clear();
      scan_text.clear();
      MaskCtx m{masker->impl(), *policy, *mscratch, doc, original, edits, pii, scan_text};
      if (auto e = walk_members<true>(root, trie, trie.root(), 0, cap, &m,
                                      Masker::Impl::all_rules(*policy))) {
        return e;
      }
      // Anything after the top-level object is an error ("{...} x", "{...}{...}").
      const char* loc = nullptr;
      if (doc.current_location().get(loc) == simdjson::SUCCESS) return simdjson::TRAILING_CONTENT;
      stored = finish_masking(m, cap);
      return masking_failed ? simdjson::UNEXPECTED_ERROR : simdjson::SUCCESS;
    }
    const char* loc = nullptr;
    if (doc.current_location().get(loc) == simdjson::SUCCESS) return simdjson::TRAILING_CONTENT;
    return simdjson::SUCCESS;
  }
};

DocumentDecoder::DocumentDecoder(std::shared_ptr<const document::FieldMappingSet> mappings,
                                 const Clock& clock, DecoderLimits limits,
                                 std::shared_ptr<const Masker> masker)
    : impl_(std::make_unique<Impl>(std::move(mappings), std::move(masker), clock, limits)) {}

DocumentDecoder::~DocumentDecoder() = default;

namespace {

std::string line_prefix(uint64_t line) { return "line " + std::to_string(line) + ": "; }

void set_reject(Reject& r, uint64_t line, std::string type, std::string reason) {
  r.type = std::move(type);
  r.reason = line_prefix(line) + reason;
  r.line = line;
}

std::string pointer_list(const std::vector<document::JsonPointer>& ptrs) {
  std::string out;
  for (const auto& p : ptrs) {
    if (!out.empty()) out += ", ";
    out += p.text;
  }
  return out;
}

const document::JsonPointer& winning_pointer(const document::FieldMapping& m, document::Field f,
                                             const Captured& c) {
  return m.pointers(f)[c.priority];
}

// An identifier-like field: a non-empty string, or an integer rendered in decimal.
bool text_of(const Captured& c, size_t max_bytes, std::string& out) {
  if (c.type == od::json_type::string) {
    if (c.str.empty() || c.str.size() > max_bytes) return false;
    out.assign(c.str);
    return true;
  }
  if (c.type == od::json_type::number && c.is_integer) {
    out.assign(c.str);
    return true;
  }
  return false;
}

constexpr EpochMillis kMaxEpochMillis = 253402300799999;  // 9999-12-31T23:59:59.999Z

// Appends a member name to a JSON pointer for an error message. A reason never carries a payload
// value, and a member name may be one (an email used as a key): a name that could hold what a
// detector matches, or is long, or has control characters, is written as "*".
void append_pointer_token(std::string& out, std::string_view token) {
  out += '/';
  int digits = 0;
  bool plain = token.size() <= 64;
  for (char c : token) {
    digits += c >= '0' && c <= '9';
    plain = plain && c != '@' && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  }
  if (!plain || digits >= 7) {
    out += '*';
    return;
  }
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
}

// Finds the first number under `v` that is no double (not integer syntax, and simdjson cannot
// read it); `path` is its JSON pointer. Error path only: the decoder's walk has failed already.
bool find_unreadable_number(od::value v, std::string& path, int depth) {
  if (depth > 128) return false;
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type == od::json_type::object) {
    od::object obj;
    if (v.get_object().get(obj)) return false;
    for (auto field : obj) {
      std::string_view key;
      od::value child;
      if (field.unescaped_key().get(key) || field.value().get(child)) return false;
      const size_t at = path.size();
      append_pointer_token(path, key);
      if (find_unreadable_number(child, path, depth + 1)) return true;
      path.resize(at);
    }
  } else if (type == od::json_type::array) {
    od::array arr;
    if (v.get_array().get(arr)) return false;
    size_t i = 0;
    for (auto element : arr) {
      od::value child;
      if (element.get(child)) return false;
      const size_t at = path.size();
      path += '/' + std::to_string(i++);
      if (find_unreadable_number(child, path, depth + 1)) return true;
      path.resize(at);
    }
  } else if (type == od::json_type::number) {
    std::string_view raw = v.raw_json_token();
    od::number n;
    while (!raw.empty() &&
           (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
      raw.remove_suffix(1);
    }
    return v.get_number().get(n) && raw.find_first_of(".eE") != std::string_view::npos &&
           document::json_number_syntax(raw);
  }
  return false;
}

bool number_out_of_range_at(simdjson::padded_string_view json, std::string& where) {
  thread_local od::parser parser;
  od::document doc;
  od::object root;
  if (parser.iterate(json).get(doc) || doc.get_object().get(root)) return false;
  for (auto field : root) {
    std::string_view key;
    od::value child;
    if (field.unescaped_key().get(key) || field.value().get(child)) return false;
    where.clear();
    append_pointer_token(where, key);
    if (find_unreadable_number(child, where, 1)) return true;
  }
  return false;
}

}  // namespace

bool DocumentDecoder::decode(std::string_view json, size_t readable, uint64_t line, Event& event,
                             Reject& reject) {
  Impl& im = *impl_;
  reject = Reject{};
  if (json.size() > im.limits.max_document_bytes) {
    set_reject(reject, line, "document_too_large",
               "document of " + std::to_string(json.size()) + " bytes exceeds the limit of " +
                   std::to_string(im.limits.max_document_bytes));
    reject.raw_length = json.size();
    reject.raw_sha256_hex = sha256_hex(json);
    return false;
  }
  simdjson::padded_string_view padded;
  if (readable >= json.size() + kJsonPadding) {
    padded = simdjson::padded_string_view(json.data(), json.size(), readable);
  } else {
    im.padded.assign(json);
    im.padded.resize(json.size() + kJsonPadding, ' ');
    padded = simdjson::padded_string_view(im.padded.data(), json.size(), im.padded.size());
  }

  Capture cap;
  bool not_object = false;
  const document::FieldMapping* mapping = &im.mappings->default_mapping;
  im.masked_values.clear();
  const Masker::Policy* policy = nullptr;
  if (im.masker) {
    policy = &im.masker->default_policy();
    im.mscratch->counts.clear();
    im.mscratch->luhn_rejected = 0;
  }
  std::string_view stored;
  const PointerTrie* used_trie = &im.default_trie;
  simdjson::error_code err = im.parse(padded, im.default_trie, cap, not_object, policy, stored);
  // A model with its own field mapping or masking policy is decoded again with them.
  if (err == simdjson::SUCCESS && !not_object) {
    const Captured& model = cap[document::Field::kModelName];
    if (model.present && model.type == od::json_type::string) {
      const std::string model_name(model.str);  // the next parse invalidates model.str
      auto it = im.mappings->per_model.find(model_name);
      const Masker::Policy* model_policy = im.masker ? &im.masker->policy_for(model_name) : nullptr;
      if (it != im.mappings->per_model.end() || model_policy != policy) {
        const PointerTrie* trie = &im.default_trie;
        if (it != im.mappings->per_model.end()) {
          mapping = &it->second;
          trie = im.trie_for(model_name);
        }
        cap = Capture{};
        im.masked_values.clear();
        if (im.masker) {
          policy = model_policy;
          im.mscratch->counts.clear();
          im.mscratch->luhn_rejected = 0;
        }
        used_trie = trie;
        err = im.parse(padded, *trie, cap, not_object, policy, stored);
      }
    }
  }
  if (err != simdjson::SUCCESS && im.duplicate) {
    set_reject(reject, line, "duplicate_key",
               im.duplicate_path +
                   " appears twice: a document must read one way (readers disagree on which "
                   "value counts)");
    reject.raw_length = json.size();
    reject.raw_sha256_hex = sha256_hex(json);
    return false;
  }
  if (err != simdjson::SUCCESS && im.masking_failed) {
    set_reject(reject, line, "masking_failed",
               "the PII detectors could not scan the document (vectorscan failed); it is not "
               "stored unmasked");
    reject.raw_length = json.size();
    reject.raw_sha256_hex = sha256_hex(json);
    return false;
  }
  if (err == simdjson::NUMBER_ERROR) {
    // Valid JSON whose number no double holds (1e400): named by its path, not "invalid JSON".
    std::string where;
    if (number_out_of_range_at(padded, where)) {
      set_reject(reject, line, "invalid_field",
                 where + " is a number out of range (beyond what a double holds)");
      reject.raw_length = json.size();
      reject.raw_sha256_hex = sha256_hex(json);
      return false;
    }
  }
  if (err != simdjson::SUCCESS) {
    std::string reason = "invalid JSON (";
    reason += simdjson::error_message(err);
    reason += ")";
    if (err == simdjson::DEPTH_ERROR) {
      reason = "JSON nesting is deeper than " + std::to_string(im.limits.max_depth) + " levels";
    }
    set_reject(reject, line, "invalid_json", std::move(reason));
    reject.raw_length = json.size();
    reject.raw_sha256_hex = sha256_hex(json);
    return false;
  }
  if (not_object) {
    set_reject(reject, line, "not_an_object", "the document is not a JSON object");
    reject.raw_length = json.size();
    reject.raw_sha256_hex = sha256_hex(json);
    return false;
  }

  // From here on the document is valid JSON: a reject keeps it, masked like everything else.
  auto stored_document = [&]() -> std::string_view { return stored; };
  auto invalid = [&](document::Field f, std::string what) {
    const Captured& c = cap[f];
    set_reject(reject, line, "invalid_field",
               winning_pointer(*mapping, f, c).text + " (" + std::string(document::field_name(f)) +
                   ") " + what);
    reject.document.assign(stored_document());
    reject.raw_length = json.size();
    return false;
  };
  auto missing = [&](document::Field f) {
    set_reject(reject, line, "missing_field",
               "missing required field " + std::string(document::field_name(f)) + " (looked at " +
                   pointer_list(mapping->pointers(f)) + ")");
    reject.document.assign(stored_document());
    reject.raw_length = json.size();
    return false;
  };

  event = Event{};
  if (policy != nullptr) event.masking_version = Masker::version(*policy);
  event.line = line;

  const Captured& rid = cap[document::Field::kRequestId];
  if (!rid.present) return missing(document::Field::kRequestId);
  if (!text_of(rid, im.limits.max_id_bytes, event.request_id)) {
    return invalid(document::Field::kRequestId, "must be a string of 1 to " +
                                                    std::to_string(im.limits.max_id_bytes) +
                                                    " bytes or an integer");
  }

  const Captured& outputs = cap[document::Field::kOutputs];
  const Captured& truth = cap[document::Field::kGroundTruth];
  const bool has_outputs = outputs.present && outputs.type != od::json_type::null;
  const bool has_truth = truth.present && truth.type != od::json_type::null;
  event.kind = has_truth && !has_outputs ? EventKind::kLabel : EventKind::kPrediction;
  const bool is_label = event.kind == EventKind::kLabel;

  // A time: RFC 3339, or integer epoch milliseconds. False (with the reject filled) when invalid.
  auto time_of = [&](document::Field f, const Captured& t, EpochMillis& out) {
    if (t.type == od::json_type::string) {
      auto parsed = parse_rfc3339(t.str);
      if (!parsed) return invalid(f, "is " + parsed.status().message());
      out = *parsed;
      return true;
    }
    if (t.type == od::json_type::number && t.is_integer) {
      if (t.big || t.integer < 0 || t.integer > kMaxEpochMillis) {
        return invalid(f, "as epoch milliseconds is outside years 1970..9999");
      }
      out = t.integer;
      return true;
    }
    return invalid(f, "must be an RFC 3339 string or integer epoch milliseconds");
  };
  // A label's time orders it among the labels of its request id: its own label_time, else its
  // timestamp, else its arrival.
  const Captured& label_time = cap[document::Field::kLabelTime];
  const Captured& ts = cap[document::Field::kTimestamp];
  if (is_label && label_time.present && label_time.type != od::json_type::null) {
    if (!time_of(document::Field::kLabelTime, label_time, event.timestamp_ms)) return false;
  } else if (!ts.present) {
    if (!is_label) return missing(document::Field::kTimestamp);
    event.timestamp_ms = im.clock.now_ms();
  } else if (!time_of(document::Field::kTimestamp, ts, event.timestamp_ms)) {
    return false;
  }

  const Captured& model = cap[document::Field::kModelName];
  if (!model.present) {
    if (!is_label) return missing(document::Field::kModelName);
  } else if (model.type != od::json_type::string || model.str.empty() ||
             model.str.size() > im.limits.max_id_bytes) {
    return invalid(document::Field::kModelName,
                   "must be a string of 1 to " + std::to_string(im.limits.max_id_bytes) + " bytes");
  } else {
    event.model_name.assign(model.str);
  }

  const Captured& version = cap[document::Field::kModelVersion];
  if (version.present && version.type != od::json_type::null) {
    if (!(version.type == od::json_type::string || version.type == od::json_type::number) ||
        version.str.size() > im.limits.max_id_bytes) {
      return invalid(document::Field::kModelVersion, "must be a string or a number");
    }
    event.model_version.assign(version.str);
  }

  const Captured& inputs = cap[document::Field::kInputs];
  if (inputs.present && inputs.type != od::json_type::object) {
    return invalid(document::Field::kInputs, "must be an object");
  }
  const Captured& expl = cap[document::Field::kExplanations];
  if (expl.present && expl.type != od::json_type::object && expl.type != od::json_type::array &&
      expl.type != od::json_type::null) {
    return invalid(document::Field::kExplanations, "must be an object or an array");
  }
  for (document::Field f : {document::Field::kConfidence, document::Field::kScore}) {
    const Captured& c = cap[f];
    if (c.present && c.type != od::json_type::null &&
        (c.type != od::json_type::number || !(c.number >= 0.0 && c.number <= 1.0))) {
      return invalid(f, "must be a number from 0 to 1");
    }
  }
  const Captured& latency = cap[document::Field::kLatency];
  if (latency.present && latency.type != od::json_type::null &&
      (latency.type != od::json_type::number || !(latency.number >= 0.0))) {
    return invalid(document::Field::kLatency, "must be a number >= 0");
  }

  event.document.assign(stored_document());
  if (!is_label && used_trie->observable() && !im.obs.beyond_64_bits && !im.obs.unreliable) {
    ObservedFields& o = event.observed;
    o.mapping = mapping;
    const Captured& p = cap.predicted_scalar.present ? cap.predicted_scalar : cap.outputs_scalar;
    if (p.present) o.predicted = observed_type(p.type);
    o.has_confidence = cap.confidence_number.present;
    o.confidence = cap.confidence_number.number;
    o.has_inputs = im.obs.inputs_priority != 255;
    o.inputs.reserve(im.obs.members.size());
    for (const auto& [name, type, number] : im.obs.members) {
      o.inputs.push_back({std::string(name), observed_type(type), number});
    }
  }
  return true;
}

bool DocumentDecoder::mask_object(std::string_view json, std::string& out) {
  Impl& im = *impl_;
  out.assign(json);
  if (!im.masker) return true;
  static const document::FieldMapping kNothing = [] {
    document::FieldMapping m;  // no pointers: nothing is captured, nothing is exempt
    return m;
  }();
  static const PointerTrie kNoTrie(kNothing);
  im.padded.assign(json);
  im.padded.resize(json.size() + kJsonPadding, ' ');
  const simdjson::padded_string_view padded(im.padded.data(), json.size(), im.padded.size());
  Capture cap;
  bool not_object = false;
  std::string_view stored;
  im.masked_values.clear();
  const auto err = im.parse(padded, kNoTrie, cap, not_object, &im.masker->default_policy(), stored);
  if (err != simdjson::SUCCESS || not_object) return false;
  out.assign(stored);
  return true;
}

const std::vector<std::pair<std::string_view, uint32_t>>& DocumentDecoder::mask_counts() const {
  static const std::vector<std::pair<std::string_view, uint32_t>> kNone;
  return impl_->mscratch ? impl_->mscratch->counts : kNone;
}

uint64_t DocumentDecoder::luhn_rejected() const {
  return impl_->mscratch ? impl_->mscratch->luhn_rejected : 0;
}

}  // namespace verity::ingest
