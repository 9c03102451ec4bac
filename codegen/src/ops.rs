//! Operations: one async method per operation, its `…Params` struct, the `_stream` over all
//! pages, the blocking wrappers, the `OPERATIONS` table rows and the contract-test calls.

use std::collections::BTreeMap;

use serde_norway::Value;

use crate::Context;
use crate::describe::param_doc;
use crate::docs::{doc_lines, own_doc_lines, spec_or_own};
use crate::models::model_struct;
use crate::naming::{all_pages_name, field_ident, iter_name, method_name, pascal, stream_name};
use crate::since::Version;
use crate::spec::{Operation, scalar_text, str_of};
use crate::typing::{rust_type, scalar_type};

/// What the operations produce, per module.
#[derive(Debug, Default)]
pub struct OpsOutput {
    /// Async methods (and streams), per module.
    pub methods: BTreeMap<String, Vec<String>>,
    /// `…Params` structs, per module.
    pub params: BTreeMap<String, Vec<String>>,
    /// Blocking wrappers, per module, with the modules in order of first use.
    pub blocking: Vec<(String, Vec<String>)>,
    /// Inline request bodies (models), per module, in order.
    pub inline_models: Vec<(String, String)>,
    /// Rows of `OPERATIONS`.
    pub table: Vec<TableRow>,
    /// Calls of the contract test: (operationId, call expression without `.await`).
    pub calls: Vec<(String, String)>,
}

/// One row of the operations table.
#[derive(Debug, Clone)]
pub struct TableRow {
    /// operationId.
    pub id: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path template.
    pub path: String,
    /// The Rust method.
    pub rust_method: String,
    /// `in:name` of every parameter but `X-Request-Id`.
    pub params: Vec<String>,
    /// The first Harbor release that has it.
    pub since: Version,
}

/// An argument of a generated method.
#[derive(Debug, Clone)]
struct Arg {
    name: String,
    ty: String,
}

impl Arg {
    fn new(name: impl Into<String>, ty: impl Into<String>) -> Arg {
        Arg {
            name: name.into(),
            ty: ty.into(),
        }
    }
    fn decl(&self) -> String {
        format!("{}: {}", self.name, self.ty)
    }
}

/// An optional parameter: its field, the parameter, and where it goes.
struct OptParam<'a> {
    field: String,
    param: &'a Value,
    header: bool,
    /// The closed set it is typed with.
    set: Option<String>,
}

/// The doc of every `q` parameter (the spec's text gives a time format Harbor does not parse).
const Q_DOC: &str =
    "Filters the list with Harbor's `q` syntax: build it with [`Query`] (exact `k=v`, fuzzy
`k=~v`, range `k=[min~max]`, any of `k={a b}`, all of `k=(a b)`; the keys are the fields of
the listed items).

Times in ranges and lists are written `2006-01-02T15:04:05`: UTC, no zone, an optional
fraction of a second ([`Query::time_range`] writes them). Harbor parses them with that Go
layout (`src/lib/q/builder.go`); the `2020-04-09 02:36:00` form of its spec's text is
compared as a string, not as a time.";

impl<'a> OptParam<'a> {
    fn new(cx: &Context<'_>, oid: &str, field: String, param: &'a Value, header: bool) -> Self {
        let name = str_of(param, "name").unwrap_or_default();
        OptParam {
            field,
            param,
            header,
            set: cx.set_for_param(oid, name).map(|s| s.name.clone()),
        }
    }
}

const ERRORS_DOC: &str = "    ///\n    /// # Errors\n    ///\n    /// Fails with [`Error`] when the request cannot be sent, Harbor answers with a\n    /// non-success status (its error envelope is kept), or the response does not decode.\n";
const ONE_PAGE_DOC: &str =
    "    ///\n    /// Returns one page; see the `_stream` variant for all pages.\n";
const ONE_PAGE_DOC_BLOCKING: &str =
    "    ///\n    /// Returns one page; see the `_iter` and `_all` variants for all pages.\n";

/// Optional query parameters never refused for their version: every `_stream` method sends
/// them. A server that ignores them (Harbor 2.2's legacy lists documented neither) answers
/// everything at once; the stream ends there when that is under a page, and its page guards
/// stop it otherwise.
const UNGATED_PARAMS: &[&str] = &["page", "page_size"];

/// The doc paragraph of an operation added after the baseline.
fn since_doc(since: Version) -> String {
    format!(
        "    ///\n    /// Since Harbor {}: an older server gets [`Error::UnsupportedByServer`] before anything\n    /// is sent (see [`VersionCheck`]).\n",
        since_text(since)
    )
}

/// `2.6` for `2.6.0`, `2.11.1` otherwise.
pub fn since_text(v: Version) -> String {
    if v.2 == 0 {
        format!("{}.{}", v.0, v.1)
    } else {
        v.to_string()
    }
}

/// The first 2xx response (by code as text), if any.
fn success(op: &Value) -> (Option<String>, Option<&Value>) {
    let Some(responses) = op["responses"].as_mapping() else {
        return (None, None);
    };
    let mut codes: Vec<(String, &Value)> = responses
        .iter()
        .filter_map(|(k, v)| Some((scalar_text(k)?, v)))
        .collect();
    codes.sort_by(|a, b| a.0.cmp(&b.0));
    codes
        .into_iter()
        .find(|(c, _)| c.starts_with('2'))
        .map_or((None, None), |(c, v)| (Some(c), Some(v)))
}

/// Generates every operation.
pub fn generate(cx: &Context<'_>) -> OpsOutput {
    let mut out = OpsOutput::default();
    for op in cx.spec.operations() {
        operation(cx, op, &mut out);
    }
    out
}

fn operation(cx: &Context<'_>, op: Operation<'_>, out: &mut OpsOutput) {
    let oid = op.id();
    let module = cx.op_module(oid, op.tag());
    let mname = method_name(oid, cx.data);
    let baseline = cx.since.baseline();
    let since = cx.since.of(oid).unwrap_or(baseline);
    let gated = since > baseline;
    let prms: Vec<&Value> = op.op["parameters"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|p| cx.spec.resolve_param(p))
        .collect();
    out.table.push(TableRow {
        id: oid.to_owned(),
        method: op.method.to_uppercase(),
        path: op.path.to_owned(),
        rust_method: mname.clone(),
        params: prms
            .iter()
            .filter(|p| str_of(p, "name") != Some("X-Request-Id"))
            .map(|p| {
                format!(
                    "{}:{}",
                    str_of(p, "in").unwrap_or_default(),
                    str_of(p, "name").unwrap_or_default()
                )
            })
            .collect(),
        since,
    });
    if cx.data.operations.hand_written.contains_key(oid) {
        return;
    }

    let (code, resp) = success(op.op);
    let produces = op.op["produces"][0].as_str().unwrap_or("application/json");
    let json = produces == "application/json";
    let sch = resp.and_then(|r| r.get("schema"));
    let paged = resp.is_some_and(|r| r["headers"].get("X-Total-Count").is_some());
    let sch_type = sch.and_then(|s| str_of(s, "type"));
    let (ret, call) = if op.method == "head" {
        ("bool".to_owned(), "send_exists")
    } else if !json && sch.is_some() && sch_type == Some("string") {
        ("String".to_owned(), "send_text")
    } else if sch_type == Some("file") {
        ("Bytes".to_owned(), "send_bytes")
    } else if sch.is_none() {
        if code.as_deref() == Some("201") {
            let call = if cx.data.operations.location_names.contains(oid) {
                "send_created_named"
            } else {
                "send_created"
            };
            ("Created".to_owned(), call)
        } else if !json {
            ("String".to_owned(), "send_text")
        } else {
            ("()".to_owned(), "send_empty")
        }
    } else if sch_type == Some("string") {
        // Raw addition content.
        ("Bytes".to_owned(), "send_bytes")
    } else if sch_type == Some("array") && paged {
        (
            format!("Page<{}>", rust_type(cx, sch.and_then(|s| s.get("items")))),
            "send_page",
        )
    } else {
        (rust_type(cx, sch), "send_json")
    };

    let mut args: Vec<Arg> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut opt: Vec<OptParam<'_>> = Vec::new();
    let mut segs: BTreeMap<String, String> = BTreeMap::new();
    // `let x = x.into();` for the arguments taken as `impl Into<T>`, before the request.
    let mut conversions: Vec<String> = Vec::new();
    for p in &prms {
        let name = str_of(p, "name").unwrap_or_default();
        let required = p["required"].as_bool();
        match str_of(p, "in").unwrap_or_default() {
            "path" => {
                let kind = cx.data.operations.path_params.get(name).map(String::as_str);
                let seg = match kind {
                    Some("project") => {
                        args.push(Arg::new("project", "impl Into<ProjectRef>"));
                        conversions.push("        let project = project.into();\n".into());
                        lines.push("        req.project_header(&project);\n".into());
                        "project.path_segment()".to_owned()
                    }
                    Some("repository") => {
                        args.push(Arg::new("repository", "&RepositoryName"));
                        "repository.path_segment()".to_owned()
                    }
                    Some("reference") => {
                        args.push(Arg::new("reference", "&Reference"));
                        "reference.path_segment()".to_owned()
                    }
                    _ => {
                        let an = field_ident(name);
                        if let Some(set) = cx.set_for_param(oid, name) {
                            args.push(Arg::new(&an, format!("impl Into<{}>", set.name)));
                            conversions.push(format!("        let {an} = {an}.into();\n"));
                            format!("encode_segment({an}.as_str())")
                        } else if str_of(p, "type") == Some("integer") {
                            args.push(Arg::new(&an, "i64"));
                            an
                        } else {
                            args.push(Arg::new(&an, "&str"));
                            format!("encode_segment({an})")
                        }
                    }
                };
                segs.insert(name.to_owned(), seg);
            }
            "header" => {
                if cx.data.operations.skip_headers.contains(name) {
                    continue;
                }
                let lower = name.to_lowercase();
                let fname =
                    field_ident(&lower.strip_prefix("x-").unwrap_or(&lower).replace('-', "_"));
                if required == Some(true) {
                    lines.push(format!("        req.header(\"{name}\", {fname})?;\n"));
                    args.push(Arg::new(fname, "&str"));
                } else {
                    opt.push(OptParam::new(cx, oid, fname, p, true));
                }
            }
            "query" => {
                let fname = field_ident(name);
                if required == Some(true) {
                    let st = scalar_type(p);
                    let location = cx
                        .data
                        .operations
                        .location_params
                        .iter()
                        .any(|lp| lp.operation == oid && lp.param == name);
                    if location {
                        lines.push(format!(
                            "        req.query(\"{name}\", {fname}.as_copy_source());\n"
                        ));
                        args.push(Arg::new(fname, "&ArtifactLocation"));
                    } else if let Some(set) = cx.set_for_param(oid, name) {
                        conversions.push(format!("        let {fname} = {fname}.into();\n"));
                        lines.push(format!(
                            "        req.query(\"{name}\", {fname}.as_str());\n"
                        ));
                        args.push(Arg::new(fname, format!("impl Into<{}>", set.name)));
                    } else {
                        lines.push(format!("        req.query(\"{name}\", {fname});\n"));
                        let ty = if st == "String" { "&str" } else { st };
                        args.push(Arg::new(fname, ty));
                    }
                } else {
                    opt.push(OptParam::new(cx, oid, fname, p, false));
                }
            }
            "body" => {
                let bs = &p["schema"];
                let bt = if bs.get("$ref").is_some() {
                    rust_type(cx, Some(bs))
                } else if str_of(bs, "type") == Some("object") && bs.get("properties").is_some() {
                    let bt = format!("{}Request", pascal(oid));
                    let doc = format!("The body of `{oid}`.");
                    let code = model_struct(cx, &bt, bs, Some(&bt), Some(&doc));
                    out.inline_models.push((cx.tag_module(op.tag()), code));
                    bt
                } else {
                    rust_type(cx, Some(bs))
                };
                if required == Some(false) {
                    args.push(Arg::new("body", format!("Option<&{bt}>")));
                    lines.push(
                        "        if let Some(body) = body {\n            req.json(body)?;\n        }\n"
                            .into(),
                    );
                } else {
                    args.push(Arg::new("body", format!("&{bt}")));
                    lines.push("        req.json(body)?;\n".into());
                }
            }
            _ => {}
        }
    }

    // The path, with each `{name}` filled by its encoded segment.
    let mut fmt_path = String::new();
    let mut seg_exprs = Vec::new();
    let mut rest = op.path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        fmt_path.push_str(&rest[..open]);
        fmt_path.push_str("{}");
        let name = &rest[open + 1..open + close];
        seg_exprs.push(segs.get(name).cloned().unwrap_or_else(|| "\"\"".into()));
        rest = &rest[open + close + 1..];
    }
    fmt_path.push_str(rest);
    let pexpr = if seg_exprs.is_empty() {
        format!("\"{}\".to_owned()", op.path)
    } else {
        format!("format!(\"{fmt_path}\", {})", seg_exprs.join(", "))
    };

    // Optional query parameters newer than the operation: a server that does not know one
    // ignores it without an error, so a call that sets one is refused on an older server.
    let gates: BTreeMap<String, (String, Version)> = opt
        .iter()
        .filter(|o| !o.header)
        .filter_map(|o| {
            let pname = str_of(o.param, "name")?;
            let v = cx.since.of_param(oid, pname)?;
            (v > since && !UNGATED_PARAMS.contains(&pname))
                .then(|| (pname.to_owned(), (o.field.clone(), v)))
        })
        .collect();
    let mut pstruct = None;
    if !opt.is_empty() {
        let name = format!("{}Params", pascal(oid));
        out.params
            .entry(module.clone())
            .or_default()
            .push(params_struct(
                &name,
                oid,
                &opt,
                &cx.data.operations.param_notes,
                &gates,
            ));
        args.push(Arg::new("params", format!("&{name}")));
        pstruct = Some(name);
    }

    // Docs.
    let mut summ = str_of(op.op, "summary")
        .filter(|s| !s.is_empty())
        .unwrap_or(oid)
        .trim()
        .to_owned();
    if !summ.is_empty() && !summ.ends_with(['.', '!', '?']) {
        summ.push('.');
    }
    let mut d = doc_lines(&summ, "    ");
    d.push_str(&format!(
        "    ///\n    /// `{} {}` (operation `{oid}`).\n",
        op.method.to_uppercase(),
        op.path
    ));
    let bare = summ.trim_end_matches('.');
    if let Some(desc) = str_of(op.op, "description")
        && !desc.trim().is_empty()
        && desc.trim().trim_end_matches('.') != bare
    {
        d.push_str("    ///\n");
        d.push_str(&doc_lines(desc, "    "));
    }
    let since_doc = if gated {
        since_doc(since)
    } else {
        String::new()
    };
    d.push_str(&since_doc);
    if ret.starts_with("Page<") {
        d.push_str(ONE_PAGE_DOC);
    }
    d.push_str(ERRORS_DOC);

    // Body.
    let mut code_lines = if gated {
        format!(
            "        self.require_version(HarborVersion::new({}, {}, {}), \"{oid}\").await?;\n",
            since.0, since.1, since.2
        )
    } else {
        String::new()
    };
    for (pname, (field, v)) in &gates {
        code_lines.push_str(&format!(
            "        if params.{field}.is_some() {{\n            self.require_version(HarborVersion::new({}, {}, {}), \"{oid} with {pname}\")\n                .await?;\n        }}\n",
            v.0, v.1, v.2
        ));
    }
    code_lines.push_str(&conversions.concat());
    let mutable = if lines.is_empty() && pstruct.is_none() {
        ""
    } else {
        "mut "
    };
    code_lines.push_str(&format!(
        "        let {mutable}req = ApiRequest::new(Method::{}, {pexpr});\n",
        op.method.to_uppercase()
    ));
    for l in &lines {
        code_lines.push_str(l);
    }
    if pstruct.is_some() {
        code_lines.push_str("        params.apply(&mut req)?;\n");
    }
    code_lines.push_str(&format!("        self.{call}(req).await\n"));
    let deprecated_op = op.op["deprecated"].as_bool() == Some(true);
    let deprecated = if deprecated_op {
        "    #[deprecated(note = \"deprecated by Harbor\")]\n"
    } else {
        ""
    };
    let decls = args.iter().map(Arg::decl).collect::<Vec<_>>().join(", ");
    out.methods.entry(module.clone()).or_default().push(format!(
        "{d}{deprecated}    pub async fn {mname}(&self, {decls}) -> Result<{ret}> {{\n{code_lines}    }}\n"
    ));
    out.calls.push((
        oid.to_owned(),
        format!(
            "c.{mname}({})",
            args.iter()
                .map(|a| contract_arg(cx, a))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ));

    // Blocking wrapper.
    let fwd = args
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let bd = d.replace(ONE_PAGE_DOC, ONE_PAGE_DOC_BLOCKING);
    let bdep = if deprecated_op {
        format!("{deprecated}    #[allow(deprecated)]\n")
    } else {
        String::new()
    };
    let mut blocking = vec![format!(
        "{bd}{bdep}    pub fn {mname}(&self, {decls}) -> Result<{ret}> {{\n        self.block_on(self.inner.{mname}({fwd}))?\n    }}\n"
    )];

    // The stream over every page.
    let has_paging =
        opt.iter().any(|o| o.field == "page") && opt.iter().any(|o| o.field == "page_size");
    if let (Some(item_t), Some(pstruct), true) = (
        ret.strip_prefix("Page<").and_then(|r| r.strip_suffix('>')),
        &pstruct,
        has_paging,
    ) {
        let sargs: Vec<&Arg> = args.iter().filter(|a| a.name != "params").collect();
        let mut own = Vec::new();
        let mut conv = String::new();
        let mut call_args = Vec::new();
        for a in &sargs {
            let an = &a.name;
            if let Some(target) =
                a.ty.strip_prefix("impl Into<")
                    .and_then(|t| t.strip_suffix('>'))
            {
                own.push(a.decl());
                conv.push_str(&format!("        let {an}: {target} = {an}.into();\n"));
                call_args.push(format!("{an}.clone()"));
            } else if a.ty.starts_with("&str") {
                own.push(format!("{an}: &str"));
                conv.push_str(&format!("        let {an} = {an}.to_owned();\n"));
                call_args.push(format!("&{an}"));
            } else if a.ty.starts_with('&') {
                own.push(a.decl());
                conv.push_str(&format!("        let {an} = {an}.clone();\n"));
                call_args.push(format!("&{an}"));
            } else {
                own.push(a.decl());
                call_args.push(an.clone());
            }
        }
        own.push(format!("params: &{pstruct}"));
        let mut sd = doc_lines(&format!("{bare}: every item, over all pages."), "    ");
        sd.push_str(&since_doc);
        sd.push_str(&format!(
            "    ///\n    /// Pages through `{oid}` with `page_size=100` (Harbor's maximum) until\n    /// `X-Total-Count` items are read or a page comes back short. `page`/`page_size` of\n    /// `params` are ignored.\n"
        ));
        sd.push_str("    ///\n    /// # Errors\n    ///\n    /// The stream yields [`Error`] for the first page that fails, then ends.\n");
        let mut body = conv;
        body.push_str("        let params = params.clone();\n");
        body.push_str("        let client = self.clone();\n");
        body.push_str("        paginate(move |page, page_size| {\n");
        body.push_str("            let client = client.clone();\n");
        for a in &sargs {
            if a.ty != "i64" {
                body.push_str(&format!("            let {0} = {0}.clone();\n", a.name));
            }
        }
        body.push_str("            let params = params.clone().page(page).page_size(page_size);\n");
        call_args.push("&params".into());
        body.push_str(&format!(
            "            async move {{ client.{mname}({}).await }}\n",
            call_args.join(", ")
        ));
        body.push_str("        })\n");
        let sdep = if deprecated_op {
            format!("{deprecated}    #[allow(deprecated)]\n")
        } else {
            String::new()
        };
        let sname = stream_name(&mname);
        let own_decls = own.join(", ");
        out.methods.entry(module.clone()).or_default().push(format!(
            "{sd}{sdep}    pub fn {sname}(&self, {own_decls}) -> BoxStream<'static, Result<{item_t}>> {{\n{body}    }}\n"
        ));
        let all_name = all_pages_name(&mname);
        let sfwd = own
            .iter()
            .map(|a| a.split(':').next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(", ");
        let mut bsd = doc_lines(
            &format!("{bare}: every item, over all pages (100 per request)."),
            "    ",
        );
        bsd.push_str(&since_doc);
        bsd.push_str("    ///\n    /// # Errors\n    ///\n    /// The first page that fails.\n");
        let iter = iter_name(&mname);
        let mut bid = doc_lines(
            &format!(
                "{bare}: every item, over all pages (100 per request), fetched as the iterator advances."
            ),
            "    ",
        );
        bid.push_str(&since_doc);
        bid.push_str("    ///\n    /// # Errors\n    ///\n    /// The iterator yields [`Error`] for the first page that fails, then ends.\n");
        blocking.push(format!(
            "{bid}{sdep}    pub fn {iter}(&self, {own_decls}) -> StreamIter<{item_t}> {{\n        StreamIter::new(self.inner.{sname}({sfwd}), self.rt.clone())\n    }}\n"
        ));
        blocking.push(format!(
            "{bsd}{sdep}    pub fn {all_name}(&self, {own_decls}) -> Result<Vec<{item_t}>> {{\n        self.block_on(self.inner.{sname}({sfwd}).try_collect())?\n    }}\n"
        ));
    }
    match out.blocking.iter_mut().find(|(m, _)| *m == module) {
        Some((_, fns)) => fns.extend(blocking),
        None => out.blocking.push((module, blocking)),
    }
}

/// The `…Params` struct of an operation's optional parameters: a field, a doc and a setter
/// each, and `apply` that puts them on the request.
fn params_struct(
    name: &str,
    oid: &str,
    opt: &[OptParam<'_>],
    notes: &BTreeMap<String, String>,
    gates: &BTreeMap<String, (String, Version)>,
) -> String {
    let mut out = format!(
        "/// Optional parameters of `{oid}`; build with `{name}::default()` and the setters.\n#[derive(Debug, Clone, Default, PartialEq)]\n#[non_exhaustive]\npub struct {name} {{\n"
    );
    let mut setters = String::new();
    let mut applies = String::new();
    for o in opt {
        let pname = str_of(o.param, "name").unwrap_or_default();
        let f = &o.field;
        let ty = if pname == "q" {
            "Query"
        } else if let Some(set) = &o.set {
            set.as_str()
        } else {
            scalar_type(o.param)
        };
        if ty == "Query" {
            out.push_str(&own_doc_lines(Q_DOC, "    "));
        } else {
            out.push_str(&spec_or_own(
                str_of(o.param, "description"),
                || param_doc(pname, ty),
                "    ",
            ));
        }
        if let Some(default) = o.param.get("default").and_then(scalar_text) {
            out.push_str(&format!(
                "    ///\n    /// Harbor's default: `{default}`.\n"
            ));
        }
        if let Some(note) = notes.get(pname) {
            out.push_str("    ///\n");
            out.push_str(&own_doc_lines(note, "    "));
        }
        if let Some((_, v)) = gates.get(pname) {
            out.push_str(&format!(
                "    ///\n    /// Since Harbor {}: setting it gets [`Error::UnsupportedByServer`] from an older\n    /// server, which would ignore it, before anything is sent (see [`VersionCheck`]).\n",
                since_text(*v)
            ));
        }
        out.push_str(&format!("    pub {f}: Option<{ty}>,\n"));
        let sdoc = doc_lines(&format!("Sets `{pname}`."), "    ");
        let (arg, value) = match ty {
            "Vec<String>" => (
                "impl IntoIterator<Item = impl Into<String>>".to_owned(),
                "value.into_iter().map(Into::into).collect()",
            ),
            "String" | "Query" => (format!("impl Into<{ty}>"), "value.into()"),
            _ if o.set.is_some() => (format!("impl Into<{ty}>"), "value.into()"),
            other => (other.to_owned(), "value"),
        };
        setters.push_str(&format!(
            "{sdoc}    #[must_use]\n    pub fn {f}(mut self, value: {arg}) -> Self {{\n        self.{f} = Some({value});\n        self\n    }}\n"
        ));
        let put = if o.header {
            format!("            req.header(\"{pname}\", &v.to_string())?;\n")
        } else if ty == "Vec<String>" {
            format!(
                "            for item in v {{\n                req.query(\"{pname}\", item);\n            }}\n"
            )
        } else if ty == "Query" {
            format!("            req.query(\"{pname}\", v.to_query_value()?);\n")
        } else {
            format!("            req.query(\"{pname}\", v);\n")
        };
        applies.push_str(&format!(
            "        if let Some(v) = &self.{f} {{\n{put}        }}\n"
        ));
    }
    out.push_str("}\n\n");
    out.push_str(&format!("impl {name} {{\n{setters}"));
    out.push_str("    pub(crate) fn apply(&self, req: &mut ApiRequest) -> Result<()> {\n");
    out.push_str(&applies);
    out.push_str("        Ok(())\n    }\n}\n");
    out
}

/// The placeholder the contract test passes for an argument.
fn contract_arg(cx: &Context<'_>, a: &Arg) -> String {
    let c = &cx.data.contract;
    match a.ty.as_str() {
        "impl Into<ProjectRef>" => return "\"library\"".into(),
        "&RepositoryName" => return "&repo".into(),
        "&Reference" => return "&reference".into(),
        "&ArtifactLocation" => {
            return "&ArtifactLocation::parse(\"library/app:latest\").expect(\"valid location\")"
                .into();
        }
        "i64" => return "1".into(),
        "&str" => {
            return c
                .string_args
                .get(&a.name)
                .cloned()
                .unwrap_or_else(|| "\"name1\"".into());
        }
        _ => {}
    }
    if let Some(set) =
        a.ty.strip_prefix("impl Into<")
            .and_then(|t| t.strip_suffix('>'))
            .and_then(|t| cx.sets.iter().find(|s| s.name == t))
    {
        return c.string_args.get(&a.name).cloned().unwrap_or_else(|| {
            format!("{:?}", set.values.first().map_or("", |v| v.value.as_str()))
        });
    }
    if a.name == "params" {
        return "&Default::default()".into();
    }
    if a.ty.starts_with("Option<&") {
        return "None".into();
    }
    if let Some(t) = a.ty.strip_prefix('&') {
        if t.starts_with("BTreeMap") {
            return "&BTreeMap::new()".into();
        }
        if let Some(args) = c.required_new.get(t) {
            return format!("&{t}::new({args})");
        }
        return format!("&{t}::default()");
    }
    "Default::default()".into()
}
