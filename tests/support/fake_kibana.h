#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace verity::testing {

// A strict, small Kibana for `verity kibana setup`'s tests: a real HTTP server (on loopback) with
// the saved objects import API, POST [/s/<space>]/api/saved_objects/_import, following Kibana 8's
// route and importer (src/core/.../routes/import.ts, import/lib/collect_saved_objects.ts,
// validate_references.ts):
// - 400 without a kbn-xsrf header; 401 without the required credentials; 404 for an unknown space;
// - query: only overwrite, createNewCopies, compatibilityMode (booleans), not overwrite with
//   createNewCopies;
// - 415 unless multipart/form-data with a boundary; the part named "file" must exist and its
//   filename end in .ndjson; every line a JSON object (the export summary line is skipped);
// - 400 "Non-unique import objects detected" when a type:id appears twice;
// - per object (listed in `errors`, the object not created): unsupported_type for a type it does
//   not know, missing_references for index-pattern and search references neither in the file nor
//   stored, conflict when it exists and overwrite is false, unknown when its typeMigrationVersion
//   or coreMigrationVersion is newer than this Kibana (8.15.0) or its shape is wrong (no
//   attributes object, references not {type, id, name}).
// Stored objects are kept by space and "type:id".
class FakeKibana {
 public:
  FakeKibana();  // binds a free port and starts; spaces "default" and "audit" exist
  ~FakeKibana();

  std::string url() const;  // http://127.0.0.1:<port>
  // Requests must carry this exact Authorization header ("": none needed).
  void require_authorization(const std::string& header);
  // Objects stored in a space: "type:id" -> the object's JSON line as imported.
  std::map<std::string, std::string> objects(const std::string& space = "default") const;
  // Import requests answered 200.
  uint64_t imports() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace verity::testing
