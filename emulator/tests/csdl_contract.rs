//! The CSDL contract: every JSON object the emulator emits for Graph resources is checked
//! against Microsoft's own schema of Graph v1.0 (EntityType/ComplexType/EnumType in the
//! CSDL): each property must exist on the type (or its base types) and its JSON type must
//! match the Edm type; Nullable="false" properties must not be null.
//!
//! The schema is not part of this repository. Point `IMAP2GRAPH_TEST_CSDL` at it, e.g.
//! `IMAP2GRAPH_TEST_CSDL=../shared/graph/v1.0-Prod.csdl cargo test -p imap2graph-emulator
//! --test csdl_contract` (a relative path is tried against the current directory and the
//! workspace root); `.ci/run` sets it. Without it this test fails on purpose.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use common::*;
use serde_json::{json, Value};

#[derive(Debug, Default)]
struct Prop {
    ty: String,
    nullable: bool,
}

#[derive(Debug, Default)]
struct StructType {
    base: Option<String>,
    props: BTreeMap<String, Prop>,
}

#[derive(Debug, Default)]
struct Schema {
    structs: BTreeMap<String, StructType>,
    enums: BTreeMap<String, BTreeSet<String>>,
}

fn attr(line: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = line.find(&key)? + key.len();
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_string())
}

/// Qualifies a type name as `microsoft.graph.X` (the CSDL writes `graph.X`).
fn qualify(ns: &str, alias: Option<&str>, name: &str) -> String {
    if let Some(a) = alias {
        if let Some(rest) = name.strip_prefix(&format!("{a}.")) {
            return format!("{ns}.{rest}");
        }
    }
    if let Some(rest) = name.strip_prefix("graph.") {
        return format!("microsoft.graph.{rest}");
    }
    name.to_string()
}

fn parse_csdl(text: &str) -> Schema {
    let mut schema = Schema::default();
    let mut ns = String::new();
    let mut alias: Option<String> = None;
    let mut cur_struct: Option<String> = None;
    let mut cur_enum: Option<String> = None;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("<Schema ") {
            ns = attr(l, "Namespace").unwrap_or_default();
            alias = attr(l, "Alias");
        } else if l.starts_with("<EntityType ") || l.starts_with("<ComplexType ") {
            let name = format!("{ns}.{}", attr(l, "Name").unwrap_or_default());
            let base = attr(l, "BaseType").map(|b| qualify(&ns, alias.as_deref(), &b));
            schema.structs.insert(
                name.clone(),
                StructType {
                    base,
                    props: BTreeMap::new(),
                },
            );
            cur_struct = if l.ends_with("/>") { None } else { Some(name) };
        } else if l.starts_with("</EntityType>") || l.starts_with("</ComplexType>") {
            cur_struct = None;
        } else if l.starts_with("<EnumType ") {
            let name = format!("{ns}.{}", attr(l, "Name").unwrap_or_default());
            schema.enums.insert(name.clone(), BTreeSet::new());
            cur_enum = Some(name);
        } else if l.starts_with("</EnumType>") {
            cur_enum = None;
        } else if l.starts_with("<Member ") {
            if let (Some(e), Some(m)) = (&cur_enum, attr(l, "Name")) {
                if let Some(set) = schema.enums.get_mut(e) {
                    set.insert(m);
                }
            }
        } else if l.starts_with("<Property ") || l.starts_with("<NavigationProperty ") {
            if let (Some(s), Some(name), Some(ty)) = (&cur_struct, attr(l, "Name"), attr(l, "Type"))
            {
                let ty = if let Some(inner) = ty
                    .strip_prefix("Collection(")
                    .and_then(|t| t.strip_suffix(')'))
                {
                    format!("Collection({})", qualify(&ns, alias.as_deref(), inner))
                } else {
                    qualify(&ns, alias.as_deref(), &ty)
                };
                let nullable = attr(l, "Nullable").as_deref() != Some("false");
                if let Some(st) = schema.structs.get_mut(s) {
                    st.props.insert(name, Prop { ty, nullable });
                }
            }
        }
    }
    schema
}

fn load_schema() -> Schema {
    let Ok(path) = std::env::var("IMAP2GRAPH_TEST_CSDL") else {
        panic!(
            "IMAP2GRAPH_TEST_CSDL is not set. This contract test checks the emulator's JSON \
             against Microsoft's Graph v1.0 schema, which is not in this repository. Run it as \
             `IMAP2GRAPH_TEST_CSDL=../shared/graph/v1.0-Prod.csdl cargo test -p imap2graph-emulator \
             --test csdl_contract` (the path may be absolute, or relative to the current \
             directory or the workspace root); .ci/run sets it."
        );
    };
    let p = std::path::PathBuf::from(&path);
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = if p.is_absolute() {
        vec![p.clone()]
    } else {
        vec![p.clone(), workspace.join(&p)]
    };
    let text = candidates
        .iter()
        .find_map(|c| std::fs::read_to_string(c).ok())
        .unwrap_or_else(|| {
            panic!("IMAP2GRAPH_TEST_CSDL={path}: cannot read it (tried {candidates:?})")
        });
    let schema = parse_csdl(&text);
    assert!(
        schema.structs.contains_key("microsoft.graph.message"),
        "{path} does not look like the Graph v1.0 CSDL (no microsoft.graph.message)"
    );
    for (ty, prop) in [
        ("message", "subject"),
        ("message", "categories"),
        ("message", "id"),
        ("mailFolder", "totalItemCount"),
    ] {
        assert!(
            schema
                .find_prop(&format!("microsoft.graph.{ty}"), prop)
                .is_some(),
            "the CSDL parser found no {ty}.{prop}: the schema format changed?"
        );
    }
    let mut probe = Vec::new();
    schema.check(
        &json!({"id": "x", "subjectt": "typo", "isRead": "yes"}),
        "microsoft.graph.message",
        "probe",
        false,
        &mut probe,
    );
    assert_eq!(
        probe.len(),
        2,
        "the checker must reject unknown names and wrong types: {probe:?}"
    );
    schema
}

impl Schema {
    fn find_prop(&self, ty: &str, name: &str) -> Option<&Prop> {
        let mut cur = Some(ty.to_string());
        while let Some(t) = cur {
            let st = self.structs.get(&t)?;
            if let Some(p) = st.props.get(name) {
                return Some(p);
            }
            cur = st.base.clone();
        }
        None
    }

    fn is_subtype(&self, ty: &str, of: &str) -> bool {
        let mut cur = Some(ty.to_string());
        while let Some(t) = cur {
            if t == of {
                return true;
            }
            cur = self.structs.get(&t).and_then(|s| s.base.clone());
        }
        false
    }

    /// Checks `v` against type `ty`; appends problems to `errs`.
    fn check(&self, v: &Value, ty: &str, path: &str, nullable: bool, errs: &mut Vec<String>) {
        if v.is_null() {
            if !nullable {
                errs.push(format!("{path}: null for a non-nullable {ty}"));
            }
            return;
        }
        if let Some(inner) = ty
            .strip_prefix("Collection(")
            .and_then(|t| t.strip_suffix(')'))
        {
            match v.as_array() {
                Some(a) => {
                    for (i, x) in a.iter().enumerate() {
                        self.check(x, inner, &format!("{path}[{i}]"), false, errs);
                    }
                }
                None => errs.push(format!("{path}: expected an array for {ty}, got {v}")),
            }
            return;
        }
        let ok = match ty {
            "Edm.String" | "Edm.Guid" | "Edm.Duration" | "Edm.Date" | "Edm.TimeOfDay" => {
                v.is_string()
            }
            "Edm.DateTimeOffset" => v
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            "Edm.Binary" => v
                .as_str()
                .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok()),
            "Edm.Int16" | "Edm.Int32" | "Edm.Int64" | "Edm.Byte" | "Edm.SByte" => {
                v.is_i64() || v.is_u64()
            }
            "Edm.Boolean" => v.is_boolean(),
            "Edm.Double" | "Edm.Single" | "Edm.Decimal" => v.is_number(),
            "Edm.Stream" => true,
            t if self.enums.contains_key(t) => match v.as_str() {
                Some(s) => {
                    let members = &self.enums[t];
                    s.split(',').all(|m| members.contains(m.trim()))
                }
                None => false,
            },
            t if self.structs.contains_key(t) => {
                match v.as_object() {
                    Some(o) => {
                        let mut actual = t.to_string();
                        if let Some(odt) = o.get("@odata.type").and_then(|x| x.as_str()) {
                            let named = odt.trim_start_matches('#').to_string();
                            if !self.structs.contains_key(&named) {
                                errs.push(format!(
                                    "{path}: @odata.type {odt} is not in the schema"
                                ));
                            } else if !self.is_subtype(&named, t) {
                                errs.push(format!("{path}: @odata.type {odt} is not a {t}"));
                            } else {
                                actual = named;
                            }
                        }
                        for (k, x) in o {
                            if k.starts_with('@') || k.contains('@') {
                                continue;
                            }
                            match self.find_prop(&actual, k) {
                                Some(p) => {
                                    self.check(x, &p.ty, &format!("{path}.{k}"), p.nullable, errs)
                                }
                                None => errs.push(format!(
                                    "{path}: property '{k}' does not exist on {actual}"
                                )),
                            }
                        }
                    }
                    None => errs.push(format!("{path}: expected an object for {t}, got {v}")),
                }
                return;
            }
            other => {
                errs.push(format!("{path}: type {other} is not in the schema"));
                return;
            }
        };
        if !ok {
            errs.push(format!("{path}: {v} is not a valid {ty}"));
        }
    }
}

struct Checker {
    schema: Schema,
    errs: Vec<String>,
    checked: BTreeMap<String, usize>,
}

impl Checker {
    fn entity(&mut self, what: &str, v: &Value, ty: &str) {
        *self.checked.entry(ty.to_string()).or_default() += 1;
        let ty = format!("microsoft.graph.{ty}");
        self.schema.check(v, &ty, what, false, &mut self.errs);
    }
    fn collection(&mut self, what: &str, r: &Resp, ty: &str) {
        assert!(
            r.status < 300,
            "{what}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        let j = r.json();
        let items = j["value"].as_array().cloned().unwrap_or_default();
        assert!(
            !items.is_empty(),
            "{what}: empty collection, nothing checked"
        );
        for (i, x) in items.iter().enumerate() {
            self.entity(&format!("{what}[{i}]"), x, ty);
        }
    }
    fn single(&mut self, what: &str, r: &Resp, ty: &str) {
        assert!(
            r.status < 300,
            "{what}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        self.entity(what, &r.json(), ty);
    }
}

#[tokio::test]
async fn every_emitted_object_matches_the_graph_schema() {
    let schema = load_schema();
    let mut c = Checker {
        schema,
        errs: Vec::new(),
        checked: BTreeMap::new(),
    };
    let s = demo_server().await;
    let t = token(s.addr).await;
    let a = ALICE_ENC;
    let json_h = [
        ("Content-Type", "application/json"),
        ("Prefer", "IdType=\"ImmutableId\""),
    ];

    c.single(
        "user",
        &get(s.addr, &t, &format!("/users/{a}")).await,
        "user",
    );
    c.collection(
        "mailFolders",
        &get(
            s.addr,
            &t,
            &format!("/users/{a}/mailFolders?includeHiddenFolders=true&$top=100"),
        )
        .await,
        "mailFolder",
    );
    c.collection(
        "childFolders",
        &get(
            s.addr,
            &t,
            &format!("/users/{a}/mailFolders/inbox/childFolders"),
        )
        .await,
        "mailFolder",
    );
    c.single(
        "inbox",
        &get(s.addr, &t, &format!("/users/{a}/mailFolders/inbox")).await,
        "mailFolder",
    );
    let ext = "$expand=singleValueExtendedProperties($filter=id%20eq%20'Integer%200x1081'%20or%20id%20eq%20'Integer%200x0E08'%20or%20id%20eq%20'Integer%200x0E07')";
    for folder in [
        "inbox",
        "sentitems",
        "drafts",
        "archive",
        "deleteditems",
        "junkemail",
    ] {
        c.collection(
            folder,
            &get(
                s.addr,
                &t,
                &format!("/users/{a}/mailFolders/{folder}/messages?$top=1000&{ext}"),
            )
            .await,
            "message",
        );
    }
    c.collection(
        "voicemail",
        &get(
            s.addr,
            &t,
            "/users/voicemail%40contoso.example/mailFolders/inbox/messages?$top=100",
        )
        .await,
        "message",
    );
    c.collection(
        "selected",
        &get(s.addr, &t, &format!("/users/{a}/messages?$top=20&$select=subject,internetMessageHeaders,uniqueBody,flag")).await,
        "message",
    );
    // Attachments of messages that have them.
    let with_att = get(
        s.addr,
        &t,
        &format!("/users/{a}/messages?$top=300&$select=hasAttachments"),
    )
    .await
    .json();
    let ids: Vec<String> = with_att["value"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter(|m| m["hasAttachments"] == true)
                .take(12)
                .filter_map(|m| m["id"].as_str().map(|s| s.to_string()))
                .collect()
        })
        .unwrap_or_default();
    assert!(!ids.is_empty());
    for id in &ids {
        let r = get(s.addr, &t, &format!("/users/{a}/messages/{id}/attachments")).await;
        c.collection("attachments", &r, "attachment");
        let first = r.json()["value"][0]["id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        c.single(
            "attachment",
            &get(
                s.addr,
                &t,
                &format!("/users/{a}/messages/{id}/attachments/{first}"),
            )
            .await,
            "attachment",
        );
        c.single(
            "message",
            &get(s.addr, &t, &format!("/users/{a}/messages/{id}")).await,
            "message",
        );
    }
    // Writes.
    let created = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{a}/messages"),
        &json_h,
        json!({"subject": "csdl", "body": {"contentType": "html", "content": "<p>x</p>"},
               "toRecipients": [{"emailAddress": {"name": "Bob", "address": "bob@fabrikam.example"}}],
               "singleValueExtendedProperties": [{"id": "Integer 0x0E07", "value": "1"}]})
        .to_string()
        .as_bytes(),
    )
    .await;
    c.single("created", &created, "message");
    let id = created.json()["id"].as_str().unwrap_or("").to_string();
    c.single(
        "patched",
        &send(s.addr, &t, "PATCH", &format!("/users/{a}/messages/{id}"), &json_h, json!({"isRead": false, "categories": ["c"], "importance": "high", "flag": {"flagStatus": "flagged"}}).to_string().as_bytes()).await,
        "message",
    );
    c.single(
        "moved",
        &send(
            s.addr,
            &t,
            "POST",
            &format!("/users/{a}/messages/{id}/move"),
            &json_h,
            json!({"destinationId": "archive"}).to_string().as_bytes(),
        )
        .await,
        "message",
    );
    c.single(
        "copied",
        &send(
            s.addr,
            &t,
            "POST",
            &format!("/users/{a}/messages/{id}/copy"),
            &json_h,
            json!({"destinationId": "inbox"}).to_string().as_bytes(),
        )
        .await,
        "message",
    );
    c.single(
        "attachment added",
        &send(s.addr, &t, "POST", &format!("/users/{a}/messages/{id}/attachments"), &json_h, json!({"@odata.type": "#microsoft.graph.fileAttachment", "name": "n.txt", "contentBytes": "aGk="}).to_string().as_bytes()).await,
        "attachment",
    );
    c.single(
        "upload session",
        &send(
            s.addr,
            &t,
            "POST",
            &format!("/users/{a}/messages/{id}/attachments/createUploadSession"),
            &json_h,
            json!({"AttachmentItem": {"attachmentType": "file", "name": "big", "size": 4_000_000}})
                .to_string()
                .as_bytes(),
        )
        .await,
        "uploadSession",
    );
    let folder = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{a}/mailFolders"),
        &json_h,
        json!({"displayName": "CSDL"}).to_string().as_bytes(),
    )
    .await;
    c.single("folder created", &folder, "mailFolder");
    let fid = folder.json()["id"].as_str().unwrap_or("").to_string();
    c.single(
        "folder renamed",
        &send(
            s.addr,
            &t,
            "PATCH",
            &format!("/users/{a}/mailFolders/{fid}"),
            &json_h,
            json!({"displayName": "CSDL 2"}).to_string().as_bytes(),
        )
        .await,
        "mailFolder",
    );
    // Delta pages (items and @removed entries).
    let d = get(
        s.addr,
        &t,
        &format!("/users/{a}/mailFolders/inbox/messages/delta"),
    )
    .await;
    c.collection("delta", &d, "message");
    let mut link = d.json()["@odata.nextLink"].as_str().map(|s| s.to_string());
    let mut delta_link = None;
    while let Some(l) = link {
        let r = request(
            s.addr,
            "GET",
            &link_target(&l),
            &[
                ("Authorization", &format!("Bearer {t}")),
                ("Prefer", "IdType=\"ImmutableId\""),
            ],
            b"",
        )
        .await;
        let j = r.json();
        delta_link = j["@odata.deltaLink"].as_str().map(|s| s.to_string());
        link = j["@odata.nextLink"].as_str().map(|s| s.to_string());
    }
    send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{a}/messages/{id}/move"),
        &json_h,
        json!({"destinationId": "inbox"}).to_string().as_bytes(),
    )
    .await;
    let first_inbox = get(
        s.addr,
        &t,
        &format!("/users/{a}/mailFolders/inbox/messages?$top=1&$select=id"),
    )
    .await
    .json()["value"][0]["id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{a}/messages/{first_inbox}/permanentDelete"),
        &json_h,
        b"",
    )
    .await;
    let dl = delta_link.expect("deltaLink");
    let r = request(
        s.addr,
        "GET",
        &link_target(&dl),
        &[
            ("Authorization", &format!("Bearer {t}")),
            ("Prefer", "IdType=\"ImmutableId\""),
        ],
        b"",
    )
    .await;
    c.collection("delta changes", &r, "message");
    c.collection(
        "folder delta",
        &get(
            s.addr,
            &t,
            &format!("/users/{a}/mailFolders/delta?$top=1000"),
        )
        .await,
        "mailFolder",
    );
    // $batch bodies are the same objects.
    let b = send(
        s.addr,
        &t,
        "POST",
        "/$batch",
        &[("Content-Type", "application/json")],
        json!({"requests": [{"id": "1", "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox"}]}).to_string().as_bytes(),
    )
    .await;
    let body = b.json()["responses"][0]["body"].clone();
    c.entity("batch body", &body, "mailFolder");

    assert!(
        c.errs.is_empty(),
        "{} schema violations (checked {:?}):\n{}",
        c.errs.len(),
        c.checked,
        c.errs.join("\n")
    );
    for ty in [
        "message",
        "mailFolder",
        "attachment",
        "uploadSession",
        "user",
    ] {
        assert!(
            c.checked.get(ty).copied().unwrap_or(0) > 0,
            "nothing of type {ty} was checked"
        );
    }
}
