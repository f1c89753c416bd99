//! The schemas Roster publishes (RFC 7643 §4, §8.7.1) as data: the same
//! tables render `/Schemas` and drive validation of bodies, PATCH paths,
//! filters and `attributes=`. Publish only what is stored and returned
//! exactly: the testers round-trip every writable attribute listed here.

use serde_json::{Value, json};

use super::filter::AttrPath;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    String,
    Boolean,
    Complex,
    Reference,
    Binary,
    DateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// One attribute of a schema.
#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: Ty,
    pub multi: bool,
    pub required: bool,
    pub mutability: Mutability,
    pub case_exact: bool,
    pub canonical: &'static [&'static str],
    pub refs: &'static [&'static str],
    pub sub: &'static [Attr],
}

const fn attr(name: &'static str, ty: Ty) -> Attr {
    Attr {
        name,
        ty,
        multi: false,
        required: false,
        mutability: Mutability::ReadWrite,
        case_exact: false,
        canonical: &[],
        refs: &[],
        sub: &[],
    }
}

const fn s(name: &'static str) -> Attr {
    attr(name, Ty::String)
}

const fn complex(name: &'static str, sub: &'static [Attr]) -> Attr {
    Attr { sub, ..attr(name, Ty::Complex) }
}

const fn multi(name: &'static str, sub: &'static [Attr]) -> Attr {
    Attr { multi: true, sub, ..attr(name, Ty::Complex) }
}

const fn typed(canonical: &'static [&'static str]) -> Attr {
    Attr { canonical, ..s("type") }
}

const fn read_only(a: Attr) -> Attr {
    Attr { mutability: Mutability::ReadOnly, ..a }
}

const fn immutable(a: Attr) -> Attr {
    Attr { mutability: Mutability::Immutable, ..a }
}

const fn reference(name: &'static str, refs: &'static [&'static str]) -> Attr {
    Attr { refs, case_exact: true, ..attr(name, Ty::Reference) }
}

const PRIMARY: Attr = attr("primary", Ty::Boolean);
const DISPLAY: Attr = s("display");

pub static USER_ATTRS: &[Attr] = &[
    Attr { required: true, ..s("userName") },
    complex(
        "name",
        &[s("formatted"), s("familyName"), s("givenName"), s("middleName"), s("honorificPrefix"), s("honorificSuffix")],
    ),
    s("displayName"),
    s("nickName"),
    reference("profileUrl", &["external"]),
    s("title"),
    s("userType"),
    s("preferredLanguage"),
    s("locale"),
    s("timezone"),
    attr("active", Ty::Boolean),
    Attr { mutability: Mutability::WriteOnly, case_exact: true, ..s("password") },
    multi("emails", &[s("value"), DISPLAY, typed(&["work", "home", "other"]), PRIMARY]),
    multi("phoneNumbers", &[s("value"), DISPLAY, typed(&["work", "home", "mobile", "fax", "pager", "other"]), PRIMARY]),
    multi(
        "ims",
        &[s("value"), DISPLAY, typed(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]), PRIMARY],
    ),
    multi("photos", &[reference("value", &["external"]), DISPLAY, typed(&["photo", "thumbnail"]), PRIMARY]),
    multi(
        "addresses",
        &[
            s("formatted"),
            s("streetAddress"),
            s("locality"),
            s("region"),
            s("postalCode"),
            s("country"),
            typed(&["work", "home", "other"]),
            PRIMARY,
        ],
    ),
    read_only(multi(
        "groups",
        &[
            read_only(s("value")),
            read_only(reference("$ref", &["User", "Group"])),
            read_only(s("display")),
            read_only(typed(&["direct", "indirect"])),
        ],
    )),
    multi("entitlements", &[s("value"), DISPLAY, s("type"), PRIMARY]),
    multi("roles", &[s("value"), DISPLAY, s("type"), PRIMARY]),
    multi("x509Certificates", &[attr("value", Ty::Binary), DISPLAY, s("type"), PRIMARY]),
];

pub static ENTERPRISE_ATTRS: &[Attr] = &[
    s("employeeNumber"),
    s("costCenter"),
    s("organization"),
    s("division"),
    s("department"),
    complex("manager", &[s("value"), reference("$ref", &["User"]), read_only(s("displayName"))]),
];

pub static GROUP_ATTRS: &[Attr] = &[
    Attr { required: true, ..s("displayName") },
    multi(
        "members",
        &[
            immutable(Attr { case_exact: true, ..s("value") }),
            immutable(reference("$ref", &["User", "Group"])),
            immutable(typed(&["User", "Group"])),
            read_only(s("display")),
        ],
    ),
];

/// The attributes every resource has (RFC 7643 §3.1).
pub static COMMON_ATTRS: &[Attr] = &[
    read_only(Attr { case_exact: true, ..s("id") }),
    Attr { case_exact: true, ..s("externalId") },
    read_only(complex(
        "meta",
        &[
            read_only(s("resourceType")),
            read_only(attr("created", Ty::DateTime)),
            read_only(attr("lastModified", Ty::DateTime)),
            read_only(reference("location", &["uri"])),
            read_only(s("version")),
        ],
    )),
];

/// A resource type and the schemas it is made of.
pub struct Kind {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub core: &'static str,
    pub attrs: &'static [Attr],
    pub extensions: &'static [(&'static str, &'static [Attr])],
}

pub static USERS: Kind = Kind {
    name: "User",
    endpoint: "/Users",
    core: USER,
    attrs: USER_ATTRS,
    extensions: &[(ENTERPRISE, ENTERPRISE_ATTRS)],
};

pub static GROUPS: Kind = Kind { name: "Group", endpoint: "/Groups", core: GROUP, attrs: GROUP_ATTRS, extensions: &[] };

pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Where a path lands in a resource kind.
pub enum Target<'a> {
    /// An attribute of the core schema or a common attribute.
    Core(&'a Attr),
    /// An attribute of an extension (its URN and the attribute).
    Extension(&'static str, &'a Attr),
    /// A whole extension, named by its URN alone.
    WholeExtension(&'static str),
}

impl Kind {
    /// Resolves a path's attribute (not its sub-attribute). A URN that is
    /// neither the core schema nor an extension, or an unknown name, is `None`.
    pub fn resolve(&self, p: &AttrPath) -> Option<Target<'static>> {
        let urn = p.urn.as_deref();
        if let Some(urn) = urn
            && !urn.eq_ignore_ascii_case(self.core)
        {
            // `urn:...:enterprise:2.0:User` alone parses as urn `urn:...:2.0`, attr `User`.
            for (ext, attrs) in self.extensions {
                if ext.eq_ignore_ascii_case(urn) {
                    return find(attrs, &p.attr).map(|a| Target::Extension(ext, a));
                }
                if ext.eq_ignore_ascii_case(&format!("{urn}:{}", p.attr)) && p.sub.is_none() {
                    return Some(Target::WholeExtension(ext));
                }
            }
            return None;
        }
        find(self.attrs, &p.attr).or_else(|| find(COMMON_ATTRS, &p.attr)).map(Target::Core)
    }

    /// Whether every attribute (and sub-attribute) a path names exists.
    pub fn knows(&self, p: &AttrPath) -> bool {
        match self.resolve(p) {
            Some(Target::Core(a)) | Some(Target::Extension(_, a)) => {
                p.sub.as_deref().is_none_or(|s| find(a.sub, s).is_some())
            }
            Some(Target::WholeExtension(_)) => true,
            None => false,
        }
    }

    pub fn extension(&self, urn: &str) -> Option<(&'static str, &'static [Attr])> {
        self.extensions.iter().find(|(u, _)| u.eq_ignore_ascii_case(urn)).copied()
    }

    /// The `/ResourceTypes/{name}` document.
    pub fn resource_type(&self, base: &str) -> Value {
        json!({
            "schemas": [RESOURCE_TYPE],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": format!("{} accounts", self.name),
            "schema": self.core,
            "schemaExtensions": self.extensions.iter().map(|(u, _)| json!({"schema": u, "required": false})).collect::<Vec<_>>(),
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", self.name)},
        })
    }
}

impl super::filter::CaseRule for Kind {
    fn case_exact(&self, p: &AttrPath) -> bool {
        let a = match self.resolve(p) {
            Some(Target::Core(a)) | Some(Target::Extension(_, a)) => a,
            _ => return false,
        };
        match &p.sub {
            Some(s) => find(a.sub, s).is_some_and(|s| s.case_exact),
            None => a.case_exact,
        }
    }
}

fn ty_name(t: Ty) -> &'static str {
    match t {
        Ty::String => "string",
        Ty::Boolean => "boolean",
        Ty::Complex => "complex",
        Ty::Reference => "reference",
        Ty::Binary => "binary",
        Ty::DateTime => "dateTime",
    }
}

fn attr_json(a: &Attr) -> Value {
    let mutability = match a.mutability {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    };
    let returned = match (a.mutability, a.name) {
        (Mutability::WriteOnly, _) => "never",
        (_, "id") => "always",
        _ => "default",
    };
    let uniqueness = match a.name {
        "userName" | "id" => "server",
        _ => "none",
    };
    let mut v = json!({
        "name": a.name,
        "type": ty_name(a.ty),
        "multiValued": a.multi,
        "description": a.name,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
    });
    if !a.canonical.is_empty() {
        v["canonicalValues"] = json!(a.canonical);
    }
    if !a.refs.is_empty() {
        v["referenceTypes"] = json!(a.refs);
    }
    if !a.sub.is_empty() {
        v["subAttributes"] = Value::Array(a.sub.iter().map(attr_json).collect());
    }
    v
}

/// Every schema document, in the order `/Schemas` lists them.
pub fn schemas(base: &str) -> Vec<Value> {
    [(USER, "User", USER_ATTRS), (ENTERPRISE, "EnterpriseUser", ENTERPRISE_ATTRS), (GROUP, "Group", GROUP_ATTRS)]
        .into_iter()
        .map(|(id, name, attrs)| {
            json!({
                "schemas": [SCHEMA],
                "id": id,
                "name": name,
                "description": format!("{name} schema"),
                "attributes": attrs.iter().map(attr_json).collect::<Vec<_>>(),
                "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
            })
        })
        .collect()
}

/// The `/ServiceProviderConfig` document.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [SPC],
        "documentationUri": "https://github.com/roster/roster#front-ends",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": super::MAX_COUNT},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A Roster API key sent as Authorization: Bearer <key>",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}
