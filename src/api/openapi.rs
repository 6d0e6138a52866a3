//! The OpenAPI document's frame (title, tags, security); its paths come
//! from the handlers' annotations, collected where the routes are declared
//! ([`super::openapi_document`]).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Harmonie",
        description = "Terminology server for French occupational-health services: NAF, PCS, CIM-10 and more. Errors are application/problem+json. The FHIR R4 terminology API is under /fhir: its CapabilityStatement (GET /fhir/metadata) lists its resources and operations.",
    ),
    external_docs(url = "/fhir/metadata", description = "FHIR R4 terminology API: the CapabilityStatement of /fhir"),
    components(schemas(error::Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "search", description = "As-you-type search by code or words"),
        (name = "systems", description = "Terminologies served"),
        (name = "concepts", description = "Lookup, descendants, browse and export"),
        (name = "batch", description = "Validation and roll-ups"),
        (name = "operations", description = "Health, metrics, reload"),
    )
)]
/// The OpenAPI document of the `/v1`, health and admin routes (served at `/openapi.json`).
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
