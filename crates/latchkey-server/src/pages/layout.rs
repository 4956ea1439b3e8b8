//! The shared page frame: tenant branding, one inline stylesheet, nothing else to download.
use latchkey_store::records::Tenant;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The accent colour, only if it is a plain `#rrggbb` (it is interpolated into CSS).
fn brand_color(t: Option<&Tenant>) -> &str {
    t.and_then(|t| t.settings.brand_color.as_deref())
        .filter(|c| c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or("#1f5fbf")
}

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1b1f24}
main{max-width:26rem;margin:0 auto;padding:1.5rem 1rem}
.card{background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 .25rem}
.sub{color:#4a525c;margin:0 0 1.25rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=email],input[type=password]{width:100%;padding:.7rem .8rem;font-size:1rem;border:1px solid #8a939e;border-radius:8px}
input:focus,button:focus{outline:3px solid var(--brand);outline-offset:1px}
button{width:100%;margin-top:1.25rem;padding:.8rem;font-size:1rem;font-weight:600;border-radius:8px;border:0;cursor:pointer;background:var(--brand);color:#fff}
button.secondary{background:#fff;color:#1b1f24;border:1px solid #8a939e;margin-top:.75rem}
.error{background:#fdecea;color:#8a1c12;border:1px solid #f5c2bd;border-radius:8px;padding:.6rem .8rem;margin:0 0 1rem}
ul.scopes{padding-left:1.2rem;margin:.5rem 0 0}
.tenant{font-weight:700;color:var(--brand);margin:0 0 1rem;font-size:1.05rem}
.tenant img{max-height:40px;max-width:160px}
a.provider{display:block;text-align:center;margin-top:.75rem;padding:.8rem;font-weight:600;border-radius:8px;border:1px solid #8a939e;color:#1b1f24;text-decoration:none}
a.provider:focus,a.provider:hover{outline:3px solid var(--brand);outline-offset:1px}
p.or{text-align:center;color:#4a525c;margin:1rem 0 0}
a.back{display:inline-block;margin-top:.5rem;color:var(--brand);font-weight:600}
footer{text-align:center;color:#6b737d;font-size:.8rem;margin-top:1rem}
"#;

pub fn page(tenant: Option<&Tenant>, title: &str, body: Markup) -> Markup {
    let brand = brand_color(tenant);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) }
                style { (PreEscaped(format!(":root{{--brand:{brand}}}"))) (PreEscaped(CSS)) }
            }
            body {
                main {
                    @if let Some(t) = tenant {
                        p.tenant {
                            @if let Some(logo) = t.settings.logo_url.as_deref().filter(|u| u.starts_with("https://")) {
                                img src=(logo) alt=(t.name);
                            } @else {
                                (t.name)
                            }
                        }
                    }
                    div.card { (body) }
                    footer { "Secured by Latchkey" }
                }
            }
        }
    }
}
