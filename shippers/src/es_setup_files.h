#pragma once

// The JSON of mappings/*.json, embedded at build time (es_mappings_embedded.cpp.in).
namespace verity::shippers {

extern const char* const kEsComponentSettings;    // component-verity-predictions-settings.json
extern const char* const kEsComponentMappings;    // component-verity-predictions-mappings.json
extern const char* const kEsIndexTemplate;        // index-template-verity-predictions.json
extern const char* const kEsIndexTemplateDated;   // index-template-verity-predictions-dated.json
extern const char* const kEsDeadLettersMappings;  // component-verity-deadletters-mappings.json
extern const char* const kEsDeadLettersTemplate;  // index-template-verity-deadletters.json
extern const char* const
    kEsDeadLettersTemplateDated;  // index-template-verity-deadletters-dated.json

}  // namespace verity::shippers
