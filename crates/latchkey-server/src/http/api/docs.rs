//! The OpenAPI document and a viewer page for it, rendered on the server (no third-party script,
//! so it works under the same strict CSP as every other page).
use actix_web::HttpResponse;
use maud::{DOCTYPE, html};
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;

use super::ApiDoc;

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").json(ApiDoc::openapi())
}

fn operations(item: &utoipa::openapi::PathItem) -> Vec<(&'static str, &Operation)> {
    [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("PATCH", &item.patch), ("DELETE", &item.delete)]
        .into_iter()
        .filter_map(|(m, op)| op.as_ref().map(|o| (m, o)))
        .collect()
}

fn where_(p: &utoipa::openapi::path::ParameterIn) -> &'static str {
    use utoipa::openapi::path::ParameterIn;
    match p {
        ParameterIn::Path => "path",
        ParameterIn::Query => "query",
        ParameterIn::Header => "header",
        ParameterIn::Cookie => "cookie",
    }
}

pub async fn viewer() -> HttpResponse {
    let doc = ApiDoc::openapi();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Latchkey management API" }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                main {
                    h1 { (doc.info.title) " " small { "v" (doc.info.version) } }
                    @if let Some(d) = &doc.info.description { p { (d) } }
                    p { a href="/api/openapi.json" { "OpenAPI document (JSON)" } }
                    @for (path, item) in &doc.paths.paths {
                        @for (method, op) in operations(item) {
                            section.op {
                                h2 { span class={"m " (method.to_lowercase())} { (method) } " " code { (path) } }
                                @if let Some(tags) = &op.tags { p.tags { (tags.join(", ")) } }
                                @if let Some(params) = &op.parameters {
                                    ul { @for p in params { li { code { (p.name) } " (" (where_(&p.parameter_in)) ")" @if let Some(d) = &p.description { " — " (d) } } } }
                                }
                                p.responses { "Responses: " @for (code, _) in &op.responses.responses { code { (code) } " " } }
                            }
                        }
                    }
                }
            }
        }
    };
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(page.into_string())
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}\
main{max-width:60rem;margin:0 auto;padding:1rem}h1 small{font-size:.6em;color:#555}\
.op{background:#fff;border:1px solid #dde;border-radius:8px;padding:.5rem 1rem;margin:.6rem 0}\
.op h2{font-size:1rem;margin:.4rem 0}.m{display:inline-block;min-width:4.5em;padding:.1em .4em;border-radius:4px;color:#fff;font-size:.85em;text-align:center}\
.get{background:#1f6feb}.post{background:#1a7f37}.put,.patch{background:#9a6700}.delete{background:#cf222e}\
.tags{color:#555;margin:.2rem 0}.responses code{margin-right:.4em}code{word-break:break-all}";
