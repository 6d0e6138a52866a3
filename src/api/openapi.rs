//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{batch, concepts, error, ops, recode, v1};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Harmonie",
        description = "Terminology server for French occupational-health services: NAF, PCS, CIM-10 and more. Errors are application/problem+json.",
    ),
    paths(
        v1::systems, v1::search,
        concepts::lookup, concepts::descendants, concepts::browse,
        batch::validate, batch::rollup, recode::recode,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi, ops::reload,
    ),
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
