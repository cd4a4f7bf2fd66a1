//! OData query options as Graph mail uses them: `$top`, `$skip`, `$select`, `$orderby`,
//! `$count`, `$filter`, `$expand=singleValueExtendedProperties($filter=…)`,
//! `includeHiddenFolders`, `$skiptoken`/`$deltatoken`, `changeType`; the `Prefer` header
//! (`odata.maxpagesize`, `IdType="ImmutableId"`); and building absolute `@odata.nextLink`s.
//! Owns `Query` and its parsing.
//!
//! Docs: <https://learn.microsoft.com/graph/query-parameters>,
//! <https://learn.microsoft.com/graph/paging> (the whole nextLink URL is opaque; it carries
//! `$skip` or `$skiptoken` depending on the API, plus the request's other query options).

use super::errors::GraphError;

#[derive(Clone, Debug, Default)]
pub(crate) struct Query {
    pub pairs: Vec<(String, String)>,
    pub top: Option<usize>,
    pub skip: usize,
    pub select: Option<Vec<String>>,
    /// (property, descending)
    pub orderby: Option<(String, bool)>,
    pub count: bool,
    pub filter: Option<String>,
    /// Normalised ids asked for with `$expand=singleValueExtendedProperties($filter=…)`.
    pub expand_ext: Option<Vec<String>>,
    pub include_hidden: bool,
    pub skiptoken: Option<String>,
    pub deltatoken: Option<String>,
    pub change_type: Option<String>,
}

pub(crate) fn parse(raw: Option<&str>) -> Result<Query, GraphError> {
    let pairs: Vec<(String, String)> = raw
        .map(|r| {
            form_urlencoded::parse(r.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut q = Query {
        pairs: pairs.clone(),
        ..Query::default()
    };
    for (k, v) in &pairs {
        match k.to_ascii_lowercase().as_str() {
            "$top" => {
                let n: i64 = v.trim().parse().map_err(|_| {
                    GraphError::bad_request(format!(
                        "Invalid value '{v}' for $top query option found. The $top query option requires a non-negative integer value."
                    ))
                })?;
                // "$top ... within the range of 1 and 1000"
                // (https://learn.microsoft.com/graph/api/user-list-messages). What Graph answers
                // outside the range is not documented; we refuse it (stricter reading).
                if !(1..=1000).contains(&n) {
                    return Err(GraphError::new(
                        400,
                        "ErrorInvalidArgument",
                        format!("The value of $top must be between 1 and 1000, got {n}."),
                    ));
                }
                q.top = Some(n as usize);
            }
            "$skip" => {
                q.skip = v.trim().parse().map_err(|_| {
                    GraphError::bad_request(format!(
                        "Invalid value '{v}' for $skip query option found. The $skip query option requires a non-negative integer value."
                    ))
                })?;
            }
            "$select" => {
                q.select = Some(
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                );
            }
            "$orderby" => {
                let mut it = v.split_whitespace();
                let prop = it.next().unwrap_or("").to_string();
                let desc = match it.next().map(|s| s.to_ascii_lowercase()) {
                    None => false,
                    Some(d) if d == "asc" => false,
                    Some(d) if d == "desc" => true,
                    Some(d) => {
                        return Err(GraphError::bad_request(format!(
                            "Syntax error: character '{d}' is not valid in $orderby."
                        )))
                    }
                };
                if it.next().is_some() || v.contains(',') {
                    return Err(GraphError::not_implemented(&format!(
                        "$orderby with more than one property ('{v}')"
                    )));
                }
                q.orderby = Some((prop, desc));
            }
            "$count" => q.count = v.eq_ignore_ascii_case("true"),
            "$filter" => q.filter = Some(v.clone()),
            "$expand" => q.expand_ext = Some(parse_expand(v)?),
            "includehiddenfolders" => q.include_hidden = v.eq_ignore_ascii_case("true"),
            "$skiptoken" => q.skiptoken = Some(v.clone()),
            "$deltatoken" => q.deltatoken = Some(v.clone()),
            "changetype" => q.change_type = Some(v.clone()),
            "$search" | "$format" | "$compute" | "$apply" | "$levels" => {
                return Err(GraphError::not_implemented(&format!(
                    "the {k} query option"
                )))
            }
            _ => {}
        }
    }
    Ok(q)
}

/// Canonical spelling of the MAPI property types Graph accepts in extended property ids.
/// <https://learn.microsoft.com/graph/api/resources/singlevaluelegacyextendedproperty>
/// ("id: … {type} {proptag}" with types such as Binary, Boolean, CLSID, Currency, Double,
/// Float, Integer, Long, Short, String, SystemTime, ApplicationTime, Object).
const TYPES: &[&str] = &[
    "ApplicationTime",
    "ApplicationTimeArray",
    "Binary",
    "BinaryArray",
    "Boolean",
    "CLSID",
    "CLSIDArray",
    "Currency",
    "CurrencyArray",
    "Double",
    "DoubleArray",
    "Float",
    "FloatArray",
    "Integer",
    "IntegerArray",
    "Long",
    "LongArray",
    "Null",
    "Object",
    "ObjectArray",
    "Short",
    "ShortArray",
    "SystemTime",
    "SystemTimeArray",
    "String",
    "StringArray",
];

/// Normalises an extended property id the way Graph echoes it: canonical type name and the
/// tag in lower-case hex without leading zeros ("Integer 0x0E08" → "Integer 0xe08"). Named
/// properties ("String {guid} Name X") keep their text with the type canonicalised.
pub(crate) fn normalise_ext_id(id: &str) -> Option<String> {
    let id = id.trim();
    let (ty, rest) = id.split_once(char::is_whitespace)?;
    let ty = TYPES.iter().find(|t| t.eq_ignore_ascii_case(ty))?;
    let rest = rest.trim();
    if let Some(hex) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
        let n = u32::from_str_radix(hex, 16).ok()?;
        if n > 0xFFFF {
            return None;
        }
        Some(format!("{ty} 0x{n:x}"))
    } else if rest.starts_with('{') {
        Some(format!("{ty} {rest}"))
    } else {
        None
    }
}

/// `singleValueExtendedProperties($filter=id eq 'A' or id eq 'B')`.
fn parse_expand(v: &str) -> Result<Vec<String>, GraphError> {
    let v = v.trim();
    let inner = v
        .strip_prefix("singleValueExtendedProperties")
        .map(|r| r.trim())
        .ok_or_else(|| GraphError::not_implemented(&format!("$expand={v}")))?;
    let inner = inner
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            GraphError::bad_request(
                "Expanding singleValueExtendedProperties requires a $filter on id.",
            )
        })?;
    let filter = inner
        .trim()
        .strip_prefix("$filter=")
        .or_else(|| inner.trim().strip_prefix("$filter ="))
        .ok_or_else(|| GraphError::not_implemented(&format!("$expand={v}")))?;
    let mut ids = Vec::new();
    for clause in split_or(filter) {
        let clause = clause.trim();
        let rest = clause
            .strip_prefix("id eq ")
            .or_else(|| clause.strip_prefix("Id eq "))
            .ok_or_else(|| {
                GraphError::not_implemented(&format!("$filter '{clause}' in $expand"))
            })?;
        let lit = rest
            .trim()
            .strip_prefix('\'')
            .and_then(|r| r.strip_suffix('\''))
            .ok_or_else(|| GraphError::bad_request(format!("Invalid filter clause: {clause}")))?;
        let norm = normalise_ext_id(lit).ok_or_else(|| {
            GraphError::bad_request(format!("'{lit}' is not a valid extended property id."))
        })?;
        ids.push(norm);
    }
    Ok(ids)
}

fn split_or(s: &str) -> Vec<&str> {
    // Quoted literals never contain " or " in the forms we accept.
    s.split(" or ").collect()
}

/// `Prefer` header values (several headers or comma-separated).
#[derive(Clone, Debug, Default)]
pub(crate) struct Prefer {
    pub max_page_size: Option<usize>,
    pub immutable_ids: bool,
    /// `outlook.body-content-type="text"|"html"`.
    pub body_content_type: Option<&'static str>,
}

pub(crate) fn parse_prefer(values: &[&str]) -> Prefer {
    let mut p = Prefer::default();
    for v in values {
        for item in v.split(',') {
            let item = item.trim();
            if let Some((k, val)) = item.split_once('=') {
                let k = k.trim();
                let val = val.trim().trim_matches('"');
                if k.eq_ignore_ascii_case("odata.maxpagesize") {
                    p.max_page_size = val.parse().ok().filter(|n: &usize| *n > 0);
                } else if k.eq_ignore_ascii_case("IdType")
                    && val.eq_ignore_ascii_case("ImmutableId")
                {
                    p.immutable_ids = true;
                } else if k.eq_ignore_ascii_case("outlook.body-content-type") {
                    if val.eq_ignore_ascii_case("text") {
                        p.body_content_type = Some("text");
                    } else if val.eq_ignore_ascii_case("html") {
                        p.body_content_type = Some("html");
                    }
                }
            }
        }
    }
    p
}

/// The original query with `$skip` (and `$skiptoken`) replaced, for an absolute nextLink.
pub(crate) fn link_with(
    base: &str,
    path: &str,
    pairs: &[(String, String)],
    drop: &[&str],
    add: &[(&str, String)],
) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if drop.iter().any(|d| d.eq_ignore_ascii_case(k)) {
            continue;
        }
        ser.append_pair(k, v);
    }
    for (k, v) in add {
        ser.append_pair(k, v);
    }
    let qs = ser.finish();
    if qs.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{qs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_ids() {
        assert_eq!(
            normalise_ext_id("Integer 0x0E08").as_deref(),
            Some("Integer 0xe08")
        );
        assert_eq!(
            normalise_ext_id("integer 0x1081").as_deref(),
            Some("Integer 0x1081")
        );
        assert!(normalise_ext_id("Nope 0x1").is_none());
        let q = parse(Some(
            "$expand=singleValueExtendedProperties($filter=id%20eq%20'Integer%200x1081'%20or%20id%20eq%20'Integer%200x0E08')&$top=5",
        ))
        .expect("parses");
        assert_eq!(
            q.expand_ext,
            Some(vec![
                "Integer 0x1081".to_string(),
                "Integer 0xe08".to_string()
            ])
        );
        assert_eq!(q.top, Some(5));
        assert!(parse(Some("$top=0")).is_err());
        assert!(parse(Some("$top=1001")).is_err());
    }
}
