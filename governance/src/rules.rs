//! The rule table: every finding's stable id, the level it has when it hurts
//! in its direction, and an example. `docs/CONTRACT-RULES.md` is generated
//! from [`RULES`] (a test fails when it is stale).

use serde::Serialize;

/// How much a finding matters to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Existing clients keep working.
    Compatible,
    /// Some clients may break (e.g. a stricter default, a new response status).
    PotentiallyBreaking,
    /// Existing clients break.
    Breaking,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Compatible => "compatible",
            Level::PotentiallyBreaking => "potentially-breaking",
            Level::Breaking => "breaking",
        }
    }
}

/// What a change does to the set of valid documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Effect {
    pub tightens: bool,
    pub loosens: bool,
}

pub const TIGHTENS: Effect = Effect {
    tightens: true,
    loosens: false,
};
pub const LOOSENS: Effect = Effect {
    tightens: false,
    loosens: true,
};
pub const BOTH: Effect = Effect {
    tightens: true,
    loosens: true,
};
pub const NEUTRAL: Effect = Effect {
    tightens: false,
    loosens: false,
};

/// One rule.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    /// Stable id, kebab-case; never reused for another meaning.
    pub id: &'static str,
    /// The level of a finding when the change hurts in its direction
    /// (tightens a request, loosens a response); otherwise compatible.
    pub level: Level,
    /// What the rule detects.
    pub what: &'static str,
    /// A change that triggers it.
    pub example: &'static str,
}

const fn r(id: &'static str, level: Level, what: &'static str, example: &'static str) -> Rule {
    Rule {
        id,
        level,
        what,
        example,
    }
}

use Level::{Breaking as B, Compatible as C, PotentiallyBreaking as W};

/// Every rule, in the order of docs/CONTRACT-RULES.md.
pub const RULES: &[Rule] = &[
    // schemas
    r(
        "type-narrowed",
        B,
        "a schema accepts fewer JSON types (tightens)",
        "`type: [string, integer]` → `type: string` in a request",
    ),
    r(
        "type-widened",
        B,
        "a schema accepts more JSON types (loosens)",
        "`type: integer` → `type: number` in a response",
    ),
    r(
        "type-changed",
        B,
        "a schema accepts different JSON types (both)",
        "`type: string` → `type: integer`",
    ),
    r(
        "nullable-added",
        B,
        "a schema now accepts null: 3.0 `nullable: true` or 3.1 `type: [.., \"null\"]` (loosens)",
        "`shipDate` becomes `nullable: true` in a response",
    ),
    r(
        "nullable-removed",
        B,
        "a schema no longer accepts null (tightens)",
        "`type: [string, \"null\"]` → `type: string` in a request",
    ),
    r(
        "property-added-required",
        B,
        "a new required property (tightens; loosens a closed object too)",
        "`allOf` adds a required `warehouseId` to a request body",
    ),
    r(
        "property-added-optional",
        B,
        "a new optional property (loosens a closed object; neutral otherwise)",
        "optional `note` on an open request object",
    ),
    r(
        "property-removed",
        B,
        "a property is no longer described (loosens; tightens a closed object)",
        "`trackingNumber` removed from a response",
    ),
    r(
        "property-became-required",
        B,
        "an existing property is now required (tightens)",
        "`quantity` added to `required` of a request",
    ),
    r(
        "property-became-optional",
        B,
        "a required property is now optional (loosens)",
        "`shipDate` dropped from `required` of a response",
    ),
    r(
        "additional-properties-closed",
        B,
        "unknown properties are now refused (tightens)",
        "`additionalProperties: false` added to a request",
    ),
    r(
        "additional-properties-opened",
        B,
        "unknown properties are now allowed (loosens)",
        "`additionalProperties: false` removed from a response",
    ),
    r(
        "enum-added",
        B,
        "a parameter or property that accepted any value is now an enum (tightens)",
        "`status: {type: string}` → `enum: [placed, approved]` in a request",
    ),
    r(
        "enum-value-added",
        B,
        "an enum accepts a new value (loosens)",
        "order `status` gains `cancelled` in a response",
    ),
    r(
        "enum-value-removed",
        B,
        "an enum no longer accepts a value (tightens)",
        "`uom` loses `CS` in a request",
    ),
    r(
        "const-changed",
        B,
        "a constant changed (both)",
        "`const: v1` → `const: v2`",
    ),
    r(
        "default-changed",
        W,
        "a default value changed, added or removed: a client that omits the value gets another behaviour (request)",
        "`limit` default 20 → 50",
    ),
    r(
        "bound-tightened",
        B,
        "a min/max length, value or item count is stricter (tightens)",
        "`maxLength: 35` → `maxLength: 20` in a request",
    ),
    r(
        "bound-loosened",
        B,
        "a min/max length, value or item count is laxer or gone (loosens)",
        "`maximum: 999` removed in a response",
    ),
    r(
        "pattern-added",
        B,
        "a string pattern is now required (tightens)",
        "`pattern: ^[0-9]{9}$` on a request's DUNS",
    ),
    r(
        "pattern-removed",
        B,
        "a string pattern is gone (loosens)",
        "a response's `pattern` removed",
    ),
    r(
        "pattern-changed",
        B,
        "a string pattern changed (both)",
        "`^[A-Z]{3}$` → `^[A-Z]{2}$`",
    ),
    r(
        "format-added",
        B,
        "a string format is now required (tightens)",
        "`format: date` on a request string",
    ),
    r(
        "format-removed",
        B,
        "a string format is gone (loosens)",
        "`format: date-time` removed in a response",
    ),
    r(
        "format-changed",
        B,
        "a string format changed (both)",
        "`format: date` → `format: date-time`",
    ),
    r(
        "alternative-added",
        B,
        "a `oneOf`/`anyOf` alternative added (loosens)",
        "a response `oneOf` gains a `PalletShipment` branch",
    ),
    r(
        "alternative-removed",
        B,
        "a `oneOf`/`anyOf` alternative removed (tightens)",
        "a request `oneOf` loses its `Parcel` branch",
    ),
    r(
        "read-only-added",
        W,
        "a property became `readOnly`: clients that send it may be refused (request)",
        "`id` marked `readOnly` in a request body",
    ),
    r(
        "read-only-removed",
        C,
        "a property is no longer `readOnly` (compatible)",
        "`readOnly: true` removed from `id`",
    ),
    r(
        "write-only-added",
        B,
        "a property became `writeOnly`: responses no longer carry it (response)",
        "`password` marked `writeOnly`",
    ),
    r(
        "write-only-removed",
        C,
        "a property is no longer `writeOnly` (compatible)",
        "`writeOnly: true` removed from `pin`",
    ),
    r(
        "discriminator-added",
        W,
        "a `discriminator` was added (both)",
        "`discriminator: {propertyName: kind}` added",
    ),
    r(
        "discriminator-removed",
        W,
        "a `discriminator` was removed (both)",
        "the `discriminator` of a `oneOf` removed",
    ),
    r(
        "discriminator-property-changed",
        B,
        "the discriminator's property name changed (both)",
        "`propertyName: kind` → `propertyName: type`",
    ),
    r(
        "discriminator-mapping-added",
        W,
        "a discriminator mapping value added (loosens)",
        "`mapping` gains `pallet: '#/…/Pallet'` in a response",
    ),
    r(
        "discriminator-mapping-removed",
        B,
        "a discriminator mapping value removed (tightens)",
        "`mapping` loses `parcel` in a request",
    ),
    // operations
    r(
        "operation-added",
        C,
        "a new operation (compatible)",
        "`GET /orders/{id}/events` added",
    ),
    r(
        "operation-removed",
        B,
        "an operation is gone (breaking)",
        "`DELETE /store/order/{orderId}` removed",
    ),
    r(
        "operation-removed-before-sunset",
        B,
        "a deprecated operation removed before its `x-sunset`/`Sunset` date (breaking; names the date)",
        "removal of an operation whose `x-sunset` is next year",
    ),
    r(
        "operation-removed-after-sunset",
        C,
        "a deprecated operation removed after its sunset date (allowed)",
        "removal of an operation deprecated with `x-sunset: 2024-01-31`",
    ),
    r(
        "deprecated-operation-removed",
        W,
        "a deprecated operation without a sunset date removed",
        "removal of an operation with `deprecated: true` and no sunset",
    ),
    r(
        "operation-deprecated",
        C,
        "an operation is now deprecated (compatible; announce a sunset)",
        "`deprecated: true` added",
    ),
    r(
        "path-parameter-renamed",
        C,
        "a path parameter renamed (`{id}` → `{poId}`): the URL is the same",
        "`/orders/{id}` → `/orders/{orderId}`",
    ),
    r(
        "parameter-added-required",
        B,
        "a new required parameter, e.g. a header, also at path-item level (tightens a request)",
        "required `X-Tenant` header added",
    ),
    r(
        "parameter-added-optional",
        C,
        "a new optional parameter (neutral)",
        "optional `?page` added",
    ),
    r(
        "parameter-removed",
        B,
        "a parameter is no longer read (loosens a request)",
        "`?expand` removed",
    ),
    r(
        "parameter-became-required",
        B,
        "a parameter is now required (tightens a request)",
        "`?warehouse` becomes `required: true`",
    ),
    r(
        "parameter-became-optional",
        B,
        "a parameter is now optional (loosens a request)",
        "`?warehouse` no longer required",
    ),
    r(
        "request-body-added",
        C,
        "an optional request body added (neutral)",
        "`POST /orders/{id}/cancel` takes an optional reason",
    ),
    r(
        "request-body-removed",
        B,
        "the request body is gone: what clients send is no longer read (breaking)",
        "`requestBody` removed from `PUT /pet`",
    ),
    r(
        "request-body-became-required",
        B,
        "a request body is now required (tightens a request)",
        "`requestBody.required: true`",
    ),
    r(
        "media-type-added",
        W,
        "a body may come in a new media type: clients that do not send `Accept` may meet it (loosens)",
        "a response adds `application/xml`",
    ),
    r(
        "media-type-removed",
        B,
        "a body media type is gone: clients that send or accept it break (both)",
        "a response drops `application/xml`",
    ),
    r(
        "response-status-added",
        W,
        "a new response status: clients may meet a status they do not handle",
        "`409` added",
    ),
    r(
        "response-status-removed",
        C,
        "a non-success response status is gone (tightens a response)",
        "`400` removed",
    ),
    r(
        "response-success-status-removed",
        B,
        "a success (2xx) response status is gone (both)",
        "`200` → `201`",
    ),
    r(
        "response-header-removed",
        B,
        "a required response header is gone (loosens a response)",
        "`X-Rate-Limit` removed",
    ),
    r(
        "response-header-became-optional",
        B,
        "a required response header is now optional (loosens a response)",
        "`Location.required: false`",
    ),
    r(
        "response-header-added",
        C,
        "a response header added (compatible)",
        "`X-Request-Id` added",
    ),
    r(
        "security-added",
        B,
        "an operation requires new credentials (tightens a request)",
        "`api_key` scheme added to an operation",
    ),
    r(
        "security-removed",
        B,
        "an operation requires fewer credentials (loosens a request)",
        "the `api_key` requirement removed",
    ),
];

/// The rule with `id`.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// docs/CONTRACT-RULES.md, generated from [`RULES`].
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "# Contract rules\n\n\
         <!-- generated from governance/src/rules.rs by `cargo test -p governance`; do not edit -->\n\n\
         `crossdock contracts diff` classifies every change between two versions of a contract with\n\
         one of these rules. Each change *tightens* the contract (a document valid before is\n\
         invalid now), *loosens* it, or both; a **request** (what clients send) hurts when it\n\
         tightens, a **response** (what clients read) when it loosens. When it hurts, the\n\
         finding has the rule's level below; otherwise it is `compatible`.\n\
         `--fail-on breaking` (default) fails the gate on `breaking` findings, `--fail-on warn`\n\
         also on `potentially-breaking` ones.\n\n\
         | rule id | level when it hurts | what | example |\n| --- | --- | --- | --- |\n",
    );
    for rule in RULES {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            rule.id,
            rule.level.as_str(),
            rule.what.replace('|', "\\|"),
            rule.example.replace('|', "\\|")
        ));
    }
    out
}
