"""Reads Roster's root DSE and subschema entry the way Python's ldap3
library does on connect (get_info=ALL), anonymously, and prints what it
understood as JSON, so the Rust test can check a real consumer parses
the RFC 4512 descriptions. Usage: read_schema.py ldap://HOST:PORT
"""
import json
import sys

from ldap3 import ALL, Connection, Server

server = Server(sys.argv[1], get_info=ALL)
conn = Connection(server, auto_bind=True)
schema = server.schema
out = {
    "subschema": server.info.schema_entry,
    "extensions": [e[0] for e in server.info.supported_extensions],
    "object_classes": {
        name: {
            "oid": oc.oid,
            "kind": oc.kind,
            "superior": oc.superior,
            "must": oc.must_contain,
            "may": oc.may_contain,
        }
        for name, oc in schema.object_classes.items()
    },
    "attribute_types": {
        name: {"oid": at.oid, "syntax": at.syntax, "single": at.single_value, "usage": at.usage}
        for name, at in schema.attribute_types.items()
    },
    "syntaxes": sorted(schema.ldap_syntaxes.keys()),
    "matching_rules": sorted(schema.matching_rules.keys()),
}
conn.unbind()
print(json.dumps(out, default=str))
