// The saved objects `verity kibana setup` imports (kibana/verity.ndjson, embedded), checked the
// way Kibana would read them, without a Kibana: each object's shape, unique type:id, every
// reference resolving inside the file, the JSON kept in strings parsing, dashboard grids, Lens
// layers whose accessors name their columns, and above all every field a panel, a filter or a
// saved search uses existing in mappings/ (the templates `verity es setup` installs for the data
// view's indices) with a type its operation accepts.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "verity/shippers/es_setup.h"
#include "verity/shippers/kibana_setup.h"

namespace verity::shippers {
namespace {

using simdjson::dom::element;

// A string member, or "" when it is absent or not a string.
template <typename E>  // element or simdjson_result<element>
std::string str(E e) {
  std::string_view v;
  return e.get_string().get(v) ? std::string() : std::string(v);
}

struct Ref {
  std::string type, id, name;
};

std::vector<Ref> refs_of(element refs) {
  std::vector<Ref> out;
  simdjson::dom::array a;
  if (refs.get_array().get(a)) return out;
  for (element r : a) out.push_back({str(r["type"]), str(r["id"]), str(r["name"])});
  return out;
}

// Field name -> mapped type, for every index pattern an index template of `es setup` serves.
class Mappings {
 public:
  Mappings() {
    for (const auto& o : es_setup_objects(store::RetentionOptions{})) bodies_[o.name] = o.body;
  }
  // The fields of the indices `pattern` names ("" when no template serves it).
  std::map<std::string, std::string> fields(const std::string& pattern) {
    std::map<std::string, std::string> out;
    for (const auto& [name, body] : bodies_) {
      element t = parser_.parse(body);
      simdjson::dom::array patterns;
      if (t["index_patterns"].get_array().get(patterns)) continue;
      bool serves = false;
      for (element p : patterns) serves = serves || str(p) == pattern;
      if (!serves) continue;
      std::vector<std::string> components;
      for (element c : t["composed_of"].get_array()) components.push_back(str(c));
      for (const auto& c : components) {
        auto it = bodies_.find(c);
        if (it == bodies_.end()) continue;
        simdjson::dom::parser p;
        element m = p.parse(it->second);
        element props;
        if (!m["template"]["mappings"]["properties"].get(props)) walk(props, "", out);
      }
    }
    return out;
  }

 private:
  static void walk(element props, const std::string& prefix,
                   std::map<std::string, std::string>& out) {
    for (auto [k, v] : props.get_object()) {
      const std::string path = prefix + std::string(k);
      std::string_view type;
      if (!v["type"].get_string().get(type)) out[path] = std::string(type);
      element inner;
      if (!v["properties"].get(inner)) walk(inner, path + ".", out);
    }
  }
  std::map<std::string, std::string> bodies_;
  simdjson::dom::parser parser_;
};

bool numeric(const std::string& t) {
  static const std::set<std::string> n = {"long",       "integer",      "short",
                                          "byte",       "double",       "float",
                                          "half_float", "scaled_float", "unsigned_long"};
  return n.count(t) > 0;
}

// Whether a Lens operation accepts a field of this mapped type.
bool accepts(const std::string& operation, const std::string& type) {
  if (operation == "date_histogram") return type == "date";
  if (operation == "average" || operation == "sum" || operation == "median" ||
      operation == "range" || operation == "standard_deviation") {
    return numeric(type);
  }
  if (operation == "min" || operation == "max") return numeric(type) || type == "date";
  if (operation == "terms") {
    return type == "keyword" || type == "constant_keyword" || type == "boolean" || type == "ip" ||
           numeric(type);
  }
  if (operation == "unique_count" || operation == "last_value") return true;
  return false;
}

// The field names a KQL query names (`field:value`, `field < 1`, `not field:*`).
std::vector<std::string> kql_fields(const std::string& q) {
  std::vector<std::string> out;
  static const std::regex field(R"(([A-Za-z_@][A-Za-z0-9_.@]*)\s*(:|<=|>=|<|>))");
  for (auto it = std::sregex_iterator(q.begin(), q.end(), field); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

class KibanaObjects : public ::testing::Test {
 protected:
  void SetUp() override {
    std::istringstream in{std::string(kibana_saved_objects())};
    for (std::string line; std::getline(in, line);) lines_.push_back(line);
  }
  std::vector<std::string> lines_;
};

TEST_F(KibanaObjects, EveryObjectHasTheShapeKibanasImportExpects) {
  ASSERT_GE(lines_.size(), 8u);
  std::set<std::string> keys;
  std::map<std::string, int> per_type;
  simdjson::dom::parser p;
  for (const auto& line : lines_) {
    element o;
    ASSERT_EQ(p.parse(line).get(o), simdjson::SUCCESS) << line.substr(0, 200);
    const std::string type = str(o["type"]), id = str(o["id"]);
    SCOPED_TRACE(type + ":" + id);
    EXPECT_TRUE(type == "index-pattern" || type == "search" || type == "dashboard");
    EXPECT_FALSE(id.empty());
    EXPECT_TRUE(keys.insert(type + ":" + id).second) << "duplicate";
    ++per_type[type];
    EXPECT_TRUE(o["attributes"].is_object());
    EXPECT_FALSE(str(o["attributes"]["title"]).empty());
    EXPECT_EQ(str(o["coreMigrationVersion"]), "8.8.0");
    EXPECT_FALSE(str(o["typeMigrationVersion"]).empty());
    bool managed = true;
    EXPECT_EQ(o["managed"].get_bool().get(managed), simdjson::SUCCESS);
    EXPECT_FALSE(managed);
    EXPECT_TRUE(o["references"].is_array());
    for (const auto& r : refs_of(o["references"])) {
      EXPECT_FALSE(r.type.empty() || r.id.empty() || r.name.empty());
    }
  }
  EXPECT_EQ(per_type["index-pattern"], 2);
  EXPECT_EQ(per_type["dashboard"], 4);
  EXPECT_GE(per_type["search"], 2);
  // Every reference resolves inside the file.
  for (const auto& line : lines_) {
    element o = p.parse(line);
    for (const auto& r : refs_of(o["references"])) {
      EXPECT_EQ(keys.count(r.type + ":" + r.id), 1u)
          << str(o["id"]) << " refers to " << r.type << ":" << r.id;
    }
  }
}

TEST_F(KibanaObjects, DataViewsServeTheIndicesVeritysTemplatesMap) {
  simdjson::dom::parser p, inner;
  Mappings mappings;
  for (const auto& line : lines_) {
    element o = p.parse(line);
    if (str(o["type"]) != "index-pattern") continue;
    element a = o["attributes"];
    SCOPED_TRACE(str(o["id"]));
    EXPECT_EQ(str(a["timeFieldName"]), "@timestamp");
    for (const char* s : {"fieldFormatMap", "fieldAttrs", "runtimeFieldMap", "typeMeta"}) {
      element e;
      EXPECT_EQ(inner.parse(str(a[s])).get(e), simdjson::SUCCESS) << s;
      EXPECT_TRUE(e.is_object()) << s;
    }
    for (const char* s : {"sourceFilters", "fields"}) {
      element e;
      EXPECT_EQ(inner.parse(str(a[s])).get(e), simdjson::SUCCESS) << s;
      EXPECT_TRUE(e.is_array()) << s;
    }
    std::stringstream patterns(str(a["title"]));
    int served = 0;
    for (std::string pattern; std::getline(patterns, pattern, ',');) {
      auto f = mappings.fields(pattern);
      EXPECT_FALSE(f.empty()) << "no index template of `verity es setup` serves " << pattern;
      EXPECT_EQ(f["@timestamp"], "date") << pattern;
      ++served;
    }
    EXPECT_EQ(served, 2) << "the data stream and the dated indices";
    // Formats name fields that exist.
    element formats = inner.parse(str(a["fieldFormatMap"]));
    for (auto [field, spec] : formats.get_object()) {
      EXPECT_FALSE(
          mappings.fields(str(a["title"]).substr(0, str(a["title"]).find(',')))[std::string(field)]
              .empty())
          << field;
    }
  }
}

// A panel's fields, with the operation that uses them.
struct FieldUse {
  std::string where, field, operation;  // operation "" : any mapped field (KQL, columns)
};

TEST_F(KibanaObjects, EveryFieldAPanelUsesIsMappedWithATypeItsOperationAccepts) {
  simdjson::dom::parser p, inner, lens_parser;
  Mappings mappings;
  std::map<std::string, std::string> view_pattern;  // data view id -> its first pattern
  std::map<std::string, element> searches;
  for (const auto& line : lines_) {
    element o = p.parse(line);
    if (str(o["type"]) == "index-pattern") {
      const std::string title = str(o["attributes"]["title"]);
      view_pattern[str(o["id"])] = title.substr(0, title.find(','));
    }
  }
  auto check = [&](const std::string& view, const std::vector<FieldUse>& uses) {
    ASSERT_EQ(view_pattern.count(view), 1u) << view;
    auto fields = mappings.fields(view_pattern[view]);
    for (const auto& u : uses) {
      auto it = fields.find(u.field);
      if (it == fields.end()) {
        ADD_FAILURE() << u.where << ": " << u.field << " is not in mappings/ for "
                      << view_pattern[view];
        continue;
      }
      if (!u.operation.empty()) {
        EXPECT_TRUE(accepts(u.operation, it->second))
            << u.where << ": " << u.operation << " on " << u.field << " (" << it->second << ")";
      }
    }
  };
  size_t lens_panels = 0, search_panels = 0, columns_checked = 0;
  for (const auto& line : lines_) {
    element o = p.parse(line);
    const std::string type = str(o["type"]), id = str(o["id"]);
    if (type == "search") {
      element a = o["attributes"];
      element source = inner.parse(str(a["kibanaSavedObjectMeta"]["searchSourceJSON"]));
      const std::string ref = str(source["indexRefName"]);
      std::string view;
      for (const auto& r : refs_of(o["references"])) {
        if (r.name == ref && r.type == "index-pattern") view = r.id;
      }
      ASSERT_FALSE(view.empty()) << id << ": indexRefName " << ref << " names no reference";
      EXPECT_EQ(str(source["query"]["language"]), "kuery");
      std::vector<FieldUse> uses;
      for (element c : a["columns"].get_array()) uses.push_back({id + " column", str(c), ""});
      for (const auto& f : kql_fields(str(source["query"]["query"])))
        uses.push_back({id + " query", f, ""});
      check(view, uses);
      continue;
    }
    if (type != "dashboard") continue;
    SCOPED_TRACE(id);
    element a = o["attributes"];
    element options, source;
    EXPECT_EQ(inner.parse(str(a["optionsJSON"])).get(options), simdjson::SUCCESS);
    EXPECT_EQ(lens_parser.parse(str(a["kibanaSavedObjectMeta"]["searchSourceJSON"])).get(source),
              simdjson::SUCCESS);
    std::map<std::string, Ref> dashboard_refs;
    for (const auto& r : refs_of(o["references"])) dashboard_refs[r.name] = r;
    element panels = inner.parse(str(a["panelsJSON"]));
    ASSERT_TRUE(panels.is_array());
    std::set<std::string> indexes;
    std::vector<std::array<int64_t, 4>> boxes;
    for (element panel : panels.get_array()) {
      const std::string pid = str(panel["panelIndex"]);
      SCOPED_TRACE(pid + " " + str(panel["title"]));
      EXPECT_TRUE(indexes.insert(pid).second);
      element g = panel["gridData"];
      EXPECT_EQ(str(g["i"]), pid);
      const std::array<int64_t, 4> box = {int64_t(g["x"]), int64_t(g["y"]), int64_t(g["w"]),
                                          int64_t(g["h"])};
      EXPECT_GE(box[0], 0);
      EXPECT_GT(box[2], 0);
      EXPECT_GT(box[3], 0);
      EXPECT_LE(box[0] + box[2], 48) << "Kibana's grid has 48 columns";
      for (const auto& b : boxes) {
        const bool apart = box[0] + box[2] <= b[0] || b[0] + b[2] <= box[0] ||
                           box[1] + box[3] <= b[1] || b[1] + b[3] <= box[1];
        EXPECT_TRUE(apart) << "panels overlap";
      }
      boxes.push_back(box);
      const std::string ptype = str(panel["type"]);
      if (ptype == "search") {
        ++search_panels;
        const std::string name = pid + ":" + str(panel["panelRefName"]);
        ASSERT_EQ(dashboard_refs.count(name), 1u) << name;
        EXPECT_EQ(dashboard_refs[name].type, "search");
        continue;
      }
      ASSERT_EQ(ptype, "lens");
      ++lens_panels;
      element lens = panel["embeddableConfig"]["attributes"];
      const std::string vis = str(lens["visualizationType"]);
      EXPECT_TRUE(vis == "lnsXY" || vis == "lnsMetric" || vis == "lnsDatatable" ||
                  vis == "lnsHeatmap")
          << vis;
      element state = lens["state"];
      auto lens_refs = refs_of(lens["references"]);
      for (auto [layer_id, layer] : state["datasourceStates"]["formBased"]["layers"].get_object()) {
        const std::string ref_name = "indexpattern-datasource-layer-" + std::string(layer_id);
        std::string view;
        for (const auto& r : lens_refs) {
          if (r.name == ref_name && r.type == "index-pattern") view = r.id;
        }
        ASSERT_FALSE(view.empty()) << ref_name;
        ASSERT_EQ(dashboard_refs.count(pid + ":" + ref_name), 1u)
            << "the dashboard carries the panel's reference";
        EXPECT_EQ(dashboard_refs[pid + ":" + ref_name].id, view);
        std::set<std::string> column_ids;
        std::vector<FieldUse> uses;
        for (auto [cid, col] : layer["columns"].get_object()) {
          column_ids.insert(std::string(cid));
          const std::string op = str(col["operationType"]);
          const std::string field = str(col["sourceField"]);
          const std::string where = std::string(cid) + " (" + op + ")";
          if (op == "count") {
            EXPECT_EQ(field, "___records___");
          } else if (op == "filters") {
            for (element f : col["params"]["filters"].get_array()) {
              EXPECT_EQ(str(f["input"]["language"]), "kuery");
              for (const auto& k : kql_fields(str(f["input"]["query"])))
                uses.push_back({where, k, ""});
            }
          } else {
            ASSERT_FALSE(field.empty()) << where;
            uses.push_back({where, field, op});
            simdjson::dom::array secondary;
            if (!col["params"]["secondaryFields"].get_array().get(secondary)) {
              for (element s : secondary) uses.push_back({where, str(s), op});
            }
            std::string_view order_type;
            if (op == "terms" && !col["params"]["orderBy"]["type"].get_string().get(order_type) &&
                order_type == "column") {
              element ordered;
              EXPECT_EQ(layer["columns"][str(col["params"]["orderBy"]["columnId"])].get(ordered),
                        simdjson::SUCCESS)
                  << where << " is ordered by a column that does not exist";
            }
          }
          element filter;
          if (!col["filter"].get(filter)) {
            for (const auto& k : kql_fields(str(filter["query"]))) uses.push_back({where, k, ""});
          }
          ++columns_checked;
        }
        std::vector<std::string> order;
        for (element c : layer["columnOrder"].get_array()) order.push_back(str(c));
        EXPECT_EQ(std::set<std::string>(order.begin(), order.end()), column_ids);
        EXPECT_EQ(order.size(), column_ids.size());
        for (const auto& k : kql_fields(str(state["query"]["query"])))
          uses.push_back({"query", k, ""});
        check(view, uses);
        // The visualization's accessors name columns of the layer.
        element v = state["visualization"];
        std::vector<std::string> accessors;
        auto add = [&](element e, const char* key) {
          std::string_view s;
          if (!e[key].get_string().get(s)) accessors.emplace_back(s);
        };
        if (vis == "lnsXY") {
          for (element l : v["layers"].get_array()) {
            EXPECT_EQ(str(l["layerId"]), std::string(layer_id));
            add(l, "xAccessor");
            add(l, "splitAccessor");
            for (element acc : l["accessors"].get_array()) accessors.push_back(str(acc));
          }
        } else if (vis == "lnsMetric") {
          add(v, "metricAccessor");
        } else if (vis == "lnsDatatable") {
          for (element c : v["columns"].get_array()) accessors.push_back(str(c["columnId"]));
        } else {
          add(v, "xAccessor");
          add(v, "yAccessor");
          add(v, "valueAccessor");
        }
        EXPECT_FALSE(accessors.empty());
        for (const auto& acc : accessors) EXPECT_EQ(column_ids.count(acc), 1u) << acc;
      }
    }
  }
  EXPECT_GE(lens_panels, 20u);
  EXPECT_EQ(search_panels, 2u);
  EXPECT_GE(columns_checked, 50u);
}

// The checks above can fail: a field that is not mapped, or mapped with a type the operation
// refuses, is caught by the same helpers they use.
TEST(KibanaObjectsChecks, CatchUnmappedFieldsAndWrongTypes) {
  Mappings m;
  auto f = m.fields("logs-verity.predictions-*");
  EXPECT_EQ(f["label.accuracy"], "byte");
  EXPECT_TRUE(f.find("label.nonexistent") == f.end());
  EXPECT_FALSE(accepts("average", f["verity.model"]));
  EXPECT_FALSE(accepts("date_histogram", f["label.accuracy"]));
  EXPECT_TRUE(accepts("terms", f["verity.model"]));
  EXPECT_EQ(kql_fields("label.correct:false and not verity.model : x or a.b >= 2"),
            (std::vector<std::string>{"label.correct", "verity.model", "a.b"}));
  EXPECT_TRUE(m.fields("logs-unknown-*").empty());
}

}  // namespace
}  // namespace verity::shippers
