//! Races a real deployment sees: the same user consenting to the same skill several times at once
//! (a double tap; two phones) creates one link, and every attempt gets its code.
use latchkey_core::client_auth::ClientAuthMethod;
use reqwest::StatusCode;

use crate::helpers::*;

async fn simultaneous_first_consents_make_one_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let f = app.fixture(ClientAuthMethod::ClientSecretBasic).await;
    // Eight browsers, each signed in and looking at the consent page.
    let mut at_consent = Vec::new();
    for i in 0..8 {
        let b = browser();
        let page = get_page(&b, authorize_url(&app, &f, &format!("s{i}"), None, &[])).await;
        let resp = post_login(&b, &app.base, &f.slug, &page, &f.email, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::OK, "consent page");
        at_consent.push((b, resp.text().await.expect("consent page")));
    }
    // All allow at the same moment.
    let answers = futures::future::join_all(
        at_consent.iter().map(|(b, page)| post_consent(b, &app.base, &f.slug, page, "allow")),
    )
    .await;
    for resp in &answers {
        assert_eq!(resp.status(), StatusCode::FOUND, "every consent is answered with the redirect to Alexa");
        assert!(query_param(&location(resp), "code").is_some());
    }
    let t = app.auth.tenant_for_admin(&f.slug).await.expect("tenant");
    let links = app.store.scoped(t.id()).list_links(Some(&f.user_id)).await.expect("links");
    assert_eq!(links.len(), 1, "one link for one user and one skill");
    app.cleanup().await;
}

on_both_backends!(simultaneous_first_consents_make_one_link);
