#include "verity/app/server.h"

#include <sys/resource.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include <openssl/rand.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>

#include "verity/app/masking_setup.h"
#include "verity/app/store_admin.h"
#include "verity/core/guard.h"
#include "verity/core/sha256.h"
#include "verity/core/thread_name.h"
#include "verity/document/json_writer.h"
#include "verity/ingest/beats_input.h"
#include "verity/ingest/es_compat.h"
#include "verity/ingest/http_ingest.h"
#include "verity/ingest/http_server.h"
#include "verity/ingest/input_metrics.h"
#include "verity/ingest/tcp_input.h"
#include "verity/quality/contributor.h"
#include "verity/query/metrics_exposition.h"
#include "verity/query/model_api.h"
#include "verity/query/model_exporter.h"
#include "verity/query/model_quality.h"
#include "verity/query/read_api.h"
#include "verity/query/search.h"
#include "verity/query/search_indexer.h"
#include "verity/shippers/es_shipper.h"
#include "verity/store/store.h"
#include "verity/ui/console_page.h"
#include "verity/ui/report_page.h"

namespace verity::app {
namespace asio = boost::asio;

struct Server::Impl {
  Impl(Config c, const Clock& clk) : config(std::move(c)), clock(clk) {}

  Config config;
  const Clock& clock;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  // server.max_memory, shared by every input; outlives the io_context and every connection.
  std::unique_ptr<ingest::MemoryBudget> budget;
  std::unique_ptr<store::Store> store;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::unique_ptr<ingest::InputMetrics> tcp_metrics;
  std::unique_ptr<ingest::MaskingMetrics> masking_metrics;
  std::shared_ptr<const ingest::Masker> masker;
  std::unique_ptr<ingest::InputMetrics> beats_metrics, http_metrics, bulk_metrics;
  // The listening inputs (tcp, beats), by name, started in this order and stopped alike.
  std::vector<std::pair<std::string, std::unique_ptr<ingest::ListeningInput>>> listeners;
  std::unique_ptr<ingest::HttpIngest> http_ingest;
  std::unique_ptr<ingest::EsCompat> es;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<ingest::HttpServer> http;
  std::unique_ptr<query::ReadApi> read_api;
  std::unique_ptr<query::SearchApi> search_api;
  query::ReadAuditor read_auditor;  // null when audit.reads is off
  std::unique_ptr<query::ModelsApi> models_api;
  std::unique_ptr<query::ModelExporter> model_exporter;
  std::unique_ptr<StoreAdminApi> admin;
  std::unique_ptr<shippers::EsShipper> shipper;
  // Verification and erasure scan the store: they run here, one at a time, not on I/O threads.
  asio::thread_pool admin_pool{1};
  // Searches and exports read many records: they run here, not on I/O threads.
  asio::thread_pool read_pool{2};
  // Point lookups running on an I/O thread (add_routes): at most one.
  std::atomic<int> inline_lookups{0};

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;  // guarded by mu
  std::atomic<bool> draining{false};

  void add_routes();
  // Registers a handler that needs `role` when authentication is on.
  void guarded(const std::string& method, const std::string& path, Role role, HttpHandler h);
  void guarded_async(const std::string& method, const std::string& path, Role role,
                     AsyncHttpHandler h);
  Status check_exposure() const;
};

void Server::Impl::guarded(const std::string& method, const std::string& path, Role role,
                           HttpHandler h) {
  http->route(method, path, [this, role, h = std::move(h)](const HttpRequest& r) {
    if (auto denied = auth->check(r, role)) return std::move(*denied);
    return h(r);
  });
}

void Server::Impl::guarded_async(const std::string& method, const std::string& path, Role role,
                                 AsyncHttpHandler h) {
  http->route_async(method, path,
                    [this, role, h = std::move(h)](HttpRequest r, HttpResponder respond) {
                      if (auto denied = auth->check(r, role)) return respond(std::move(*denied));
                      h(std::move(r), std::move(respond));
                    });
}

namespace {

// A random id kept in <data_dir>/node.id: the cluster_uuid Elasticsearch clients see.
Result<std::string> node_id(const std::string& data_dir) {
  const std::string path = data_dir + "/node.id";
  std::ifstream in(path);
  std::string id;
  if (in && std::getline(in, id) && id.size() == 32) return id;
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::internal("RAND_bytes failed");
  id = to_hex(raw, sizeof raw);
  std::ofstream out(path, std::ios::trunc);
  out << id << "\n";
  if (!out) return Status::unavailable("cannot write " + path, false);
  return id;
}

bool is_loopback(const HostPort& hp) {
  boost::system::error_code ec;
  const auto a = asio::ip::make_address(hp.host, ec);
  return !ec && a.is_loopback();
}

}  // namespace

// A listener reachable from other hosts must authenticate its clients.
Status Server::Impl::check_exposure() const {
  std::string problems;
  auto problem = [&problems](const std::string& p) {
    problems += (problems.empty() ? "" : "; ") + p;
  };
  if (!is_loopback(config.http.listen) && !auth->enabled()) {
    problem("http.listen " + config.http.listen.to_string() +
            " is not a loopback address: configure auth.tokens or auth.users");
  }
  if (!is_loopback(config.http.listen) && !config.http.tls.enabled &&
      !config.http_allow_plaintext_remote) {
    problem("http.listen " + config.http.listen.to_string() +
            " is not a loopback address and credentials would cross the network in clear text: "
            "enable http.tls, or set http.allow_plaintext_remote: true (a TLS proxy in front)");
  }
  if (config.tcp_enabled && !is_loopback(config.tcp.listen) && !config.tcp_allow_remote) {
    problem("inputs.tcp.listen " + config.tcp.listen.to_string() +
            " is not a loopback address and the TCP input cannot authenticate clients: bind it "
            "to loopback or set inputs.tcp.allow_unauthenticated_remote: true");
  }
  if (config.beats_enabled && !is_loopback(config.beats.listen) && !config.beats_allow_remote &&
      !config.beats.tls.verify_client) {
    problem("inputs.beats.listen " + config.beats.listen.to_string() +
            " is not a loopback address: enable inputs.beats.tls with verify_client, or set "
            "inputs.beats.allow_unauthenticated_remote: true");
  }
  if (problems.empty()) return Status::ok();
  return Status::failed_precondition(problems);
}

Server::Server(Config config, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(config), clock)) {}

Server::~Server() {
  if (!impl_->threads.empty()) {
    request_stop();
    run_until_stopped();
  }
}

void Server::Impl::add_routes() {
  // Reads of prediction data write the read audit (and searches scan): they run on the read pool,
  // not on an I/O thread (point lookups, below, one at a time may), and an unexpected exception is
  // a 500, not the end of the process.
  using ReadHandler = std::function<HttpResponse(const HttpRequest&)>;
  auto answer = [](const ReadHandler& handler, const HttpRequest& r) {
    HttpResponse resp;
    auto s = verity::guarded("a read", [&] { resp = handler(r); });
    if (!s) resp = document::error_response(500, "internal_error", s.message());
    return resp;
  };
  auto on_read_pool = [this, answer](ReadHandler handler) {
    return [this, answer, handler = std::move(handler)](HttpRequest r, HttpResponder done) {
      asio::post(read_pool, [r = std::move(r), done = std::move(done), handler, answer] {
        done(answer(handler, r));
      });
    };
  };
  // A point lookup is a few block reads and one small write. On the I/O thread that read the
  // request it saves two hand-offs between threads (to the read pool and back): ~30% of its server
  // CPU and of its latency at 20M stored predictions (docs/design-notes.md, *Search: the time index
  // and the read audit trail*). At most one I/O thread runs one at a time, so lookups held up by a
  // slow disk or a write stall never hold every I/O thread (ingest, /metrics, health): the others
  // go to the read pool.
  ReadHandler lookup = [this](const HttpRequest& r) { return read_api->get_prediction(r); };
  guarded_async(
      "GET", "/v1/predictions/*", kRoleRead,
      [this, answer, lookup, pooled = on_read_pool(lookup)](HttpRequest r, HttpResponder done) {
        if (inline_lookups.fetch_add(1) != 0) {
          inline_lookups.fetch_sub(1);
          pooled(std::move(r), std::move(done));
          return;
        }
        HttpResponse resp = answer(lookup, r);
        inline_lookups.fetch_sub(1);
        done(std::move(resp));
      });
  auto quality_off = [] {
    return document::error_response(404, "model_quality_disabled",
                                    "model quality is off (metrics.quality.enabled: false)");
  };
  guarded("GET", "/v1/models", kRoleRead, [this, quality_off](const HttpRequest& r) {
    return models_api ? models_api->models(r) : quality_off();
  });
  guarded_async("GET", "/v1/predictions", kRoleRead,
                on_read_pool([this](const HttpRequest& r) { return search_api->search(r); }));
  // A model's report, as numbers or curves: the same role, window parameters and read audit.
  auto model_read = [this, quality_off, on_read_pool](const char* endpoint, auto answer) {
    return on_read_pool([this, quality_off, endpoint, answer](const HttpRequest& r) {
      if (!models_api) return quality_off();
      HttpResponse resp = answer(r);
      if (read_auditor) {
        query::ReadAccess a;
        a.endpoint = endpoint;
        a.query = r.path;
        for (const auto& [k, v] : r.query) {
          a.query += (a.query == r.path ? "?" : "&") + k + "=" + v;
        }
        a.returned = resp.status == 200 ? 1 : 0;
        if (auto s = read_auditor(r, a); !s) {
          return document::error_response(503, "read_audit_unavailable",
                                          "the read could not be recorded: " + s.message());
        }
      }
      return resp;
    });
  };
  guarded_async(
      "GET", "/v1/models/*/metrics", kRoleRead,
      model_read("model_metrics", [this](const HttpRequest& r) { return models_api->metrics(r); }));
  guarded_async(
      "GET", "/v1/models/*/curves", kRoleRead,
      model_read("model_curves", [this](const HttpRequest& r) { return models_api->curves(r); }));
  // The same numbers as one self-contained HTML page (verity report MODEL -o report.html).
  guarded_async("GET", "/v1/models/*/report.html", kRoleRead,
                model_read("model_report", [this](const HttpRequest& r) {
                  HttpResponse curves = models_api->curves(r, "/report.html");
                  return curves.status == 200 ? ui::report_response(curves.body) : curves;
                }));
  guarded("GET", "/v1/partitions", kRoleRead,
          [this](const HttpRequest& r) { return admin->partitions(r); });
  guarded("GET", "/v1/holds", kRoleRead, [this](const HttpRequest& r) { return admin->holds(r); });
  for (const char* method : {"POST", "DELETE"}) {
    guarded(method, "/v1/holds", kRoleAdmin,
            [this](const HttpRequest& r) { return admin->set_hold(r); });
  }
  guarded("GET", "/v1/audit", kRoleAdmin, [this](const HttpRequest& r) {
    if (r.query_param("kind") != "read") return admin->audit(r);
    HttpResponse resp = admin->read_audit(r, clock.now_ms());
    if (read_auditor && resp.status == 200) {  // reading the trail is a read too
      query::ReadAccess a;
      a.endpoint = "audit";
      for (const auto& [k, v] : r.query) a.query += (a.query.empty() ? "" : "&") + k + "=" + v;
      if (auto s = read_auditor(r, a); !s) {
        return document::error_response(503, "read_audit_unavailable",
                                        "the read could not be recorded: " + s.message());
      }
    }
    return resp;
  });
  // Verification recomputes every chain: an expensive admin action, not a read.
  guarded_async("POST", "/v1/verify", kRoleAdmin, [this](HttpRequest r, HttpResponder done) {
    asio::post(admin_pool,
               [this, r = std::move(r), done = std::move(done)] { done(admin->verify(r)); });
  });
  guarded_async("POST", "/v1/erase", kRoleAdmin, [this](HttpRequest r, HttpResponder done) {
    asio::post(admin_pool,
               [this, r = std::move(r), done = std::move(done)] { done(admin->erase(r)); });
  });
  guarded("GET", "/metrics", kRoleRead, [this](const HttpRequest&) {
    // Gauges that describe a state rather than count events are read when scraped.
    if (shipper) shipper->update_gauges();
    if (budget) budget->update_gauges();
    if (store) store->update_gauges();
    return query::metrics_response(*registry);
  });
  guarded_async("POST", "/v1/predictions", kRoleIngest, [this](HttpRequest r, HttpResponder done) {
    http_ingest->predictions(std::move(r), std::move(done));
  });
  guarded_async("POST", "/v1/labels", kRoleIngest, [this](HttpRequest r, HttpResponder done) {
    http_ingest->labels(std::move(r), std::move(done));
  });
  if (es) {
    // Elasticsearch-compatible ingest: any authenticated ingest caller may ask what we are.
    for (const char* path : {"/_bulk", "/*/_bulk"}) {
      for (const char* method : {"POST", "PUT"}) {
        guarded_async(method, path, kRoleIngest, [this](HttpRequest r, HttpResponder done) {
          http_ingest->bulk(std::move(r), std::move(done));
        });
      }
    }
    guarded("GET", "/", kRoleIngest, [this](const HttpRequest& r) { return es->root(r); });
    guarded("GET", "/_license", kRoleIngest,
            [this](const HttpRequest& r) { return es->license(r); });
    guarded("GET", "/_xpack", kRoleIngest, [this](const HttpRequest& r) { return es->xpack(r); });
    for (const char* path : {"/_ilm/policy/*", "/_index_template/*", "/_component_template/*",
                             "/_template/*", "/_data_stream/*"}) {
      for (const char* method : {"GET", "PUT", "POST", "DELETE"}) {
        guarded(method, path, kRoleIngest,
                [this](const HttpRequest& r) { return es->setup_object(r); });
      }
    }
  }
  // The console's page holds no data (everything it shows comes from the API above, with its
  // roles and read audit): served without authentication, under a policy that allows no remote
  // origin (ui/console_page.h).
  http->route("GET", "/ui", [](const HttpRequest&) {
    HttpResponse r = HttpResponse::json(301, "{\"location\":\"/ui/\"}\n");
    r.headers.emplace_back("Location", "/ui/");
    return r;
  });
  for (const char* path : {"/ui/", "/ui/index.html"}) {
    http->route("GET", path, [this](const HttpRequest&) {
      return ui::console_response(config.masking.redact_token);
    });
  }
  http->route("GET", "/healthz",
              [](const HttpRequest&) { return HttpResponse::json(200, "{\"status\":\"ok\"}\n"); });
  http->route("GET", "/readyz", [this](const HttpRequest&) {
    std::string reasons;
    auto add = [&reasons](std::string_view why) {
      if (!reasons.empty()) reasons += ',';
      document::append_json_string(reasons, why);
    };
    if (draining.load()) add("shutting down");
    // Unauthenticated: the reason names no path (the log has the store's own message).
    if (!store->writable()) {
      const std::string why = store->unavailable_reason();
      const bool full =
          why.find("No space") != std::string::npos || why.find("no space") != std::string::npos;
      add(full ? "store not writable: no space left on the device (the log names the file)"
               : "store not writable: an I/O error (the log has the details)");
    }
    if (store->backlogged()) add("store commit queue is full");
    if (shipper) {
      if (auto why = shipper->problem(); !why.empty()) add(why);
    }
    if (reasons.empty()) return HttpResponse::json(200, "{\"status\":\"ready\"}\n");
    return HttpResponse::json(503, "{\"status\":\"not_ready\",\"reasons\":[" + reasons + "]}\n");
  });
}

Status Server::start() {
  Impl& im = *impl_;
  im.auth = std::make_unique<Authenticator>(im.config.credentials());
  if (auto s = im.check_exposure(); !s) return s;
  if (!im.auth->enabled()) {
    spdlog::info("auth: no credentials configured; the HTTP API is open on loopback only");
  }
  std::error_code ec;
  std::filesystem::create_directories(im.config.data_dir, ec);
  if (ec) {
    return Status::unavailable("cannot create data_dir " + im.config.data_dir + ": " + ec.message(),
                               false);
  }
  auto mappings = std::make_shared<const document::FieldMappingSet>(im.config.field_mappings());
  auto quality = std::make_shared<const quality::QualityConfig>(im.config.quality_config());
  store::StoreOptions so = im.config.store;
  so.data_dir = im.config.data_dir;
  so.outbox = !im.config.es_output.hosts.empty();
  so.forward_dead_letters = so.outbox && im.config.es_output.dead_letters;
  if (im.config.quality_enabled) {
    so.contributor = std::make_shared<quality::ModelContributor>(mappings, quality);
  } else {
    spdlog::info("model quality is off (metrics.quality.enabled: false)");
  }
  std::shared_ptr<const query::SearchIndexer> indexer;
  if (im.config.search_block_summaries || !im.config.search_indexed_fields.empty()) {
    indexer = std::make_shared<query::SearchIndexer>(mappings, im.config.search_indexed_fields,
                                                     im.config.search_block_summaries);
    so.indexer = indexer;
  }
  auto opened = store::Store::open(so, im.clock, *im.registry);
  if (!opened) return opened.status();
  im.store = std::move(opened).value();

  auto masker = build_masker(im.config, /*create_key=*/true);
  if (!masker) return masker.status();
  im.masker = std::move(masker).value();
  if (im.masker) {
    im.masking_metrics = std::make_unique<ingest::MaskingMetrics>(*im.registry);
    spdlog::info("masking on: policy {}, key {}",
                 ingest::Masker::version(im.masker->default_policy()),
                 im.config.masking_key_path());
    if (im.masker->request_id_forms("x").size() > 1) {
      spdlog::info("masking: a rule hashes request ids; lookups hash the ids they are given");
    }
  } else {
    spdlog::warn("masking is off (masking.enabled: false): documents are stored as sent");
  }
  // One memory budget for every input (server.max_memory).
  im.budget = std::make_unique<ingest::MemoryBudget>(im.config.max_memory.bytes, im.registry.get());
  // What every input is built from: the store, field mappings, masking, the budget.
  auto input_context = [&](ingest::InputMetrics& metrics) {
    return ingest::InputContext{*im.store,      mappings,  im.clock,
                                metrics,        im.masker, im.masking_metrics.get(),
                                im.budget.get()};
  };
  if (im.config.tcp_enabled) {
    im.tcp_metrics = std::make_unique<ingest::InputMetrics>(*im.registry, "tcp");
    ingest::TcpInputOptions tcp = im.config.tcp;
    tcp.max_dead_letters = im.config.max_dead_letters_per_batch;
    im.listeners.emplace_back(
        "tcp", std::make_unique<ingest::TcpInput>(im.io, tcp, input_context(*im.tcp_metrics)));
  }
  if (im.config.beats_enabled) {
    im.beats_metrics = std::make_unique<ingest::InputMetrics>(*im.registry, "beats");
    ingest::BeatsInputOptions beats = im.config.beats;
    beats.max_dead_letters = im.config.max_dead_letters_per_batch;
    im.listeners.emplace_back("beats", std::make_unique<ingest::BeatsInput>(
                                           im.io, beats, input_context(*im.beats_metrics)));
  }
  for (auto& [name, input] : im.listeners) {
    if (auto s = input->start(); !s) return s;
    const bool tls = name == "beats" && im.config.beats.tls.enabled;
    spdlog::info("{} input listening on {}{}", name, input->local_endpoint().to_string(),
                 tls ? " (TLS)" : "");
  }
  im.http_metrics = std::make_unique<ingest::InputMetrics>(*im.registry, "http");
  im.bulk_metrics = std::make_unique<ingest::InputMetrics>(*im.registry, "es_bulk");
  ingest::HttpIngestOptions http_ingest = im.config.http_ingest;
  http_ingest.max_dead_letters = im.config.max_dead_letters_per_batch;
  im.http_ingest = std::make_unique<ingest::HttpIngest>(im.io, input_context(*im.http_metrics),
                                                        *im.bulk_metrics, http_ingest);
  if (im.config.es_enabled) {
    auto uuid = node_id(im.config.data_dir);
    if (!uuid) return uuid.status();
    im.es = std::make_unique<ingest::EsCompat>(ingest::EsCompatOptions{
        im.config.es_version, "verity", std::move(uuid).value(), im.config.es_max_setup_objects,
        im.config.es_max_setup_object.bytes});
  }
  if (im.config.es_output.hosts.empty()) {
    spdlog::info("elasticsearch shipper off: no outputs.elasticsearch.hosts (or --es-url)");
  } else {
    im.shipper = std::make_unique<shippers::EsShipper>(*im.store, im.config.es_output, im.clock,
                                                       *im.registry, mappings);
    im.shipper->start();
    std::string hosts;
    for (const auto& h : im.config.es_output.hosts) hosts += (hosts.empty() ? "" : ", ") + h;
    spdlog::info("elasticsearch shipper on: {} (from outbox sequence {})", hosts,
                 im.store->outbox_checkpoint());
    if (im.config.es_output.dead_letters) {
      spdlog::info("dead letters forwarded too (from sequence {}, {} waiting)",
                   im.store->dead_letter_checkpoint(), im.store->dead_letter_backlog());
    }
  }
  query::ReadApi::IdForms id_forms;
  if (im.masker) {
    id_forms = [m = im.masker](std::string_view id) { return m->request_id_forms(id); };
  }
  if (im.config.audit_reads) {
    im.read_auditor = [&im](const HttpRequest& req, const query::ReadAccess& a) {
      store::ReadRecord r;
      r.actor = im.auth->principal(req);
      r.endpoint = a.endpoint;
      r.query = a.query;
      r.returned = a.returned;
      r.request_ids = a.request_ids;
      // A long query is kept as its first 2 KiB and the digest of the whole.
      if (r.query.size() > 2048) {
        r.query = r.query.substr(0, 2048) + "...(sha256:" + sha256_hex(a.query) + ")";
      }
      // A read that cannot be recorded is not answered (the caller says 503).
      return im.store->record_read(r);
    };
  }
  im.read_api = std::make_unique<query::ReadApi>(*im.store, std::move(id_forms), im.read_auditor);
  std::function<std::string(std::string_view)> hasher;
  if (im.masker) hasher = [m = im.masker](std::string_view raw) { return m->hmac_token(raw); };
  query::SearchOptions search_options = im.config.search;
  search_options.indexer = indexer;
  im.search_api = std::make_unique<query::SearchApi>(
      *im.store, im.clock, search_options, mappings.get(), im.read_auditor, std::move(hasher));
  if (im.config.quality_enabled) {
    im.models_api = std::make_unique<query::ModelsApi>(*im.store, quality, im.clock);
    im.model_exporter = std::make_unique<query::ModelExporter>(
        *im.models_api, *im.store, im.config.model_export, im.clock, *im.registry);
    im.model_exporter->start();
  }
  im.admin = std::make_unique<StoreAdminApi>(*im.store, im.masker, im.config.erasure_subject_field,
                                             *im.auth);
  ingest::HttpServerOptions http_options = im.config.http;
  // Elasticsearch clients refuse servers whose 2xx answers lack this header.
  if (im.config.es_enabled)
    http_options.success_headers.emplace_back("X-Elastic-Product", "Elasticsearch");
  im.http = std::make_unique<ingest::HttpServer>(im.io, http_options);
  im.http->set_limits(im.budget.get(), im.http_metrics.get());
  im.add_routes();
  if (auto s = im.http->start(); !s) return s;
  spdlog::info("http listening on {}", im.http->local_endpoint().to_string());

  im.work.emplace(im.io.get_executor());
  for (size_t i = 0; i < im.config.io_threads; ++i) {
    im.threads.emplace_back([&im] {
      // Handlers return errors, never throw; should one throw anyway (std::bad_alloc), the thread
      // logs it and goes on serving (Asio's io_context stays usable after a handler throws).
      while (true) {
        auto s = guarded("an I/O thread", [&im] { im.io.run(); });
        if (s) break;
        spdlog::critical("{}", s.message());
      }
    });
    set_thread_name(im.threads.back(), "verity-io-" + std::to_string(i));
  }
  return Status::ok();
}

std::string Server::bound_addresses_json() const {
  std::string out = "{";
  for (const auto& [name, input] : impl_->listeners) {
    out += "\"" + name + "\":\"" + input->local_endpoint().to_string() + "\",";
  }
  out += "\"http\":\"" + impl_->http->local_endpoint().to_string() + "\"}";
  return out;
}

void Server::request_stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
}

void Server::run_until_stopped() {
  Impl& im = *impl_;
  {
    std::unique_lock lock(im.mu);
    im.cv.wait(lock, [&] { return im.stop_requested; });
  }
  if (im.threads.empty()) return;
  im.draining = true;
  spdlog::info("shutting down: no new connections; committing what was read");
  for (auto& [name, input] : im.listeners) input->stop();
  im.admin_pool.join();                // a running erasure or verification finishes first
  if (im.shipper) im.shipper->stop();  // the request in flight is sent again after a restart
  if (im.model_exporter) im.model_exporter->stop();
  im.store->stop(im.config.shutdown_timeout);
  im.http->stop();
  im.work.reset();
  im.io.stop();
  for (auto& t : im.threads) t.join();
  im.threads.clear();
  const auto st = im.store->stats();
  spdlog::info("stopped; next sequence {}", st.next_sequence);
}

namespace {

// RocksDB keeps every table file open, and a hot partition holds one per memtable flush (hundreds
// a day at tens of millions of events): the soft limit on open files (1024 in a login shell) is
// raised to the hard one, as servers that are not select()-based do.
void raise_open_file_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= r.rlim_max) return;
  const rlim_t was = r.rlim_cur;
  r.rlim_cur = r.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &r) != 0) {
    spdlog::warn("cannot raise the open-file limit from {}: {}", was, std::strerror(errno));
    return;
  }
  spdlog::debug("open-file limit raised from {} to {}", was, r.rlim_max);
}

}  // namespace

int run_serve(Config config, const std::string& port_file) {
  raise_open_file_limit();
  SystemClock clock;
  Server server(std::move(config), clock);

  // Signals: the first asks for an orderly stop, the second exits at once. Installed before start()
  // so a signal during start-up is not fatal.
  asio::io_context signal_io;
  asio::signal_set signals(signal_io, SIGINT, SIGTERM);
  int received = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (++received == 1) {
          spdlog::info("received signal {}; stopping (send it again to exit at once)", sig);
          server.request_stop();
          signals.async_wait(on_signal);
        } else {
          spdlog::warn("second signal: exiting at once");
          std::_Exit(130);
        }
      };
  signals.async_wait(on_signal);
  std::thread signal_thread([&] { signal_io.run(); });
  set_thread_name(signal_thread, "verity-signals");
  auto stop_signals = [&] {
    signal_io.stop();
    signal_thread.join();
  };

  if (auto s = server.start(); !s) {
    spdlog::critical("cannot start: {}", s.message());
    stop_signals();
    return 1;
  }
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << server.bound_addresses_json() << "\n";
    }
    std::error_code ec;
    std::filesystem::rename(tmp, port_file, ec);
    if (ec) spdlog::warn("cannot write the port file {}: {}", port_file, ec.message());
  }
  server.run_until_stopped();
  stop_signals();
  return 0;
}

}  // namespace verity::app
