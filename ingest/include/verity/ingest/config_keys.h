#pragma once

// The config keys of ingest's components (verity/core/config_schema.h). app/ places them in the
// file: inputs.tcp, inputs.beats, http, masking.

#include "verity/core/config_schema.h"
#include "verity/ingest/beats_input.h"
#include "verity/ingest/http_ingest.h"
#include "verity/ingest/http_server.h"
#include "verity/ingest/masking_policy.h"
#include "verity/ingest/tcp_input.h"

namespace verity::ingest {

void declare_keys(config::Section& s, TcpInputOptions& o);
void declare_keys(config::Section& s, BeatsInputOptions& o);
// tls.* of a listener.
void declare_keys(config::Section& s, ServerTlsOptions& o);
void declare_keys(config::Section& s, HttpServerOptions& o);
void declare_keys(config::Section& s, HttpIngestOptions& o);

// A rule's or a detector's action and its parameters.
void declare_keys(config::Section& s, MaskParams& p);
void declare_keys(config::Section& s, MaskRule& r);
// A built-in detector's setting (drop, redact, hash or partial). `compact`: parameters the action
// does not use are rendered only when set away from their defaults.
void declare_keys(config::Section& s, DetectorSetting& d, bool compact = true);
void declare_keys(config::Section& s, CustomDetector& c);
// masking.{redact_token,rules,detectors,custom_detectors}.
void declare_keys(config::Section& s, MaskingPolicy& p);

}  // namespace verity::ingest
