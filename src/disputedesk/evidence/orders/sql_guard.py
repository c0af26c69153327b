"""Static check that an order query is one read-only SELECT (first of two guards).

A small SQL tokenizer, not a regex: it walks the text and skips comments, string literals,
quoted identifiers and (PostgreSQL) dollar-quoted strings, so a keyword or ``;`` inside them is
not mistaken for code, and code is never mistaken for a string. Whatever it cannot be sure
about is refused (backslashes in literals, nested or MySQL ``/*!`` comments, ``$`` outside
PostgreSQL). The second guard, a read-only transaction that is always rolled back, is in
:mod:`.sql_source`; both must let a query through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from disputedesk.evidence.orders.errors import OrderSourceConfigError, WriteQueryRefused

# Words that only make sense in statements that write or change the session. Inside one
# SELECT/WITH they can only appear as a data-modifying CTE (PostgreSQL), SELECT ... INTO, a
# locking clause, or as a column name (which can be quoted or qualified instead).
WRITE_WORDS = frozenset(["insert", "update", "delete", "merge", "upsert", "into", "drop", "create", "alter", "truncate", "grant", "revoke", "copy", "call", "exec", "execute", "attach", "detach", "pragma", "vacuum", "reindex", "lock", "commit", "rollback", "savepoint", "begin"])
# Functions with side effects outside the transaction, or that run SQL given as text.
UNSAFE_FUNCTIONS = frozenset(["pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal", "pg_create_restore_point", "pg_promote", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "lo_import", "lo_export", "lo_unlink", "lo_create", "lo_from_bytea", "lo_put", "dblink", "dblink_exec", "dblink_connect", "dblink_send_query", "set_config", "pg_advisory_lock", "pg_advisory_xact_lock", "pg_try_advisory_lock", "pg_advisory_lock_shared", "nextval", "setval", "pg_notify", "pg_logical_emit_message", "query_to_xml", "query_to_xml_and_xmlschema", "cursor_to_xml", "load_extension", "writefile", "readfile", "edit", "fts3_tokenizer", "load_file", "sleep", "benchmark", "get_lock", "sys_exec", "sys_eval"])
PARAMETERS = ("order_id", "payment_intent", "email")


@dataclass(frozen=True)
class Token:
    kind: str   # word, qident, string, number, param, punct
    text: str
    pos: int


def _refuse(message: str, hint: str) -> WriteQueryRefused:
    return WriteQueryRefused(message, param="query", hint=hint)


def tokenize(sql: str, dialect: str = "postgresql") -> list[Token]:
    """Tokens of ``sql`` with comments dropped; raises :class:`WriteQueryRefused` on anything
    ambiguous."""
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise _refuse("the query has a /* comment that is never closed", "close it with */")
            body = sql[i + 2:end]
            if "/*" in body or body.startswith("!"):
                raise _refuse("nested or executable /* comments are not allowed", "use -- comments")
            i = end + 2
        elif c == "'":
            j = i + 1
            while True:
                j = sql.find("'", j)
                if j < 0:
                    raise _refuse("the query has a string that is never closed", "close it with '")
                if sql.startswith("''", j):
                    j += 2
                    continue
                break
            literal = sql[i:j + 1]
            if "\\" in literal:
                # Databases disagree on whether \ escapes a quote; refuse rather than guess.
                raise _refuse("backslashes in string literals are not allowed",
                              "pass the value as a parameter or write it without \\")
            tokens.append(Token("string", literal, i))
            i = j + 1
        elif c == '"' or (c == "`" and dialect != "postgresql") or (c == "[" and dialect == "sqlite"):
            close = {"\"": "\"", "`": "`", "[": "]"}[c]
            j = i + 1
            while True:
                j = sql.find(close, j)
                if j < 0:
                    raise _refuse("the query has a quoted name that is never closed", f"close it with {close}")
                if close != "]" and sql.startswith(close * 2, j):
                    j += 2
                    continue
                break
            tokens.append(Token("qident", sql[i:j + 1], i))
            i = j + 1
        elif c == "$":
            m = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$").match(sql, i)
            if dialect != "postgresql" or not m:
                raise _refuse("'$' is not allowed in the query", "use :order_id, :payment_intent or :email parameters")
            end = sql.find(m[0], m.end())
            if end < 0:
                raise _refuse("the query has a $-quoted string that is never closed", f"close it with {m[0]}")
            tokens.append(Token("string", sql[i:end + len(m[0])], i))
            i = end + len(m[0])
        elif c == ":" and sql.startswith("::", i):
            tokens.append(Token("punct", "::", i))
            i += 2
        elif c == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            m = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)").match(sql, i)
            tokens.append(Token("param", m[1], i))
            i = m.end()
        elif c.isalpha() or c == "_":
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*").match(sql, i)
            tokens.append(Token("word", m[0], i))
            i = m.end()
        elif c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = re.compile(r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?").match(sql, i)
            tokens.append(Token("number", m[0], i))
            i = m.end()
        elif c == "#" and dialect not in ("postgresql", "sqlite"):
            raise _refuse("'#' is not allowed in the query", "use -- comments")
        else:
            tokens.append(Token("punct", c, i))
            i += 1
    return tokens


def check_read_only(sql: str, dialect: str = "postgresql") -> list[str]:
    """Refuse anything but one SELECT (or WITH ... SELECT); return the parameter names used."""
    if not sql or not sql.strip():
        raise _refuse("the order query is empty", "write a SELECT with :order_id, :payment_intent or :email")
    tokens = tokenize(sql, dialect)
    if tokens and tokens[-1].text == ";":
        tokens = tokens[:-1]
    if not tokens:
        raise _refuse("the order query has no statement", "write a SELECT")
    for tok in tokens:
        if tok.kind == "punct" and tok.text == ";":
            raise _refuse("the order query holds several statements",
                          "give exactly one SELECT, without ';' in the middle")
    first = next((t for t in tokens if not (t.kind == "punct" and t.text == "(")), tokens[0])
    if first.kind != "word" or first.text.lower() not in ("select", "with"):
        raise _refuse(f"the order query starts with '{first.text}', not SELECT or WITH",
                      "only read-only SELECT queries are allowed")
    for k, tok in enumerate(tokens):
        if tok.kind != "word":
            continue
        word = tok.text.lower()
        prev = tokens[k - 1] if k else None
        nxt = tokens[k + 1] if k + 1 < len(tokens) else None
        qualified = prev is not None and prev.kind == "punct" and prev.text == "."
        if word in WRITE_WORDS and not qualified:
            hint = "only read-only SELECT queries are allowed"
            if word not in ("insert", "update", "delete", "merge", "into", "drop", "create", "alter"):
                hint += f'; if {tok.text} is a column, quote it ("{tok.text}") or qualify it (t.{tok.text})'
            raise _refuse(f"the order query contains {word.upper()}, which writes or changes state", hint)
        if word in UNSAFE_FUNCTIONS and nxt is not None and nxt.text == "(":
            raise _refuse(f"the order query calls {tok.text}(), which is not allowed",
                          "use plain SELECT expressions")
        if word == "for" and nxt is not None and nxt.kind == "word" and nxt.text.lower() in ("share", "key", "no"):
            raise _refuse("the order query takes row locks (FOR SHARE)", "remove the locking clause")
    names = []
    for tok in tokens:
        if tok.kind == "param" and tok.text not in names:
            names.append(tok.text)
    return names


def check_parameters(names: list[str]) -> None:
    unknown = [n for n in names if n not in PARAMETERS]
    if unknown:
        raise OrderSourceConfigError(
            f"the order query uses unknown parameters: {', '.join(':' + n for n in unknown)}",
            param="query", hint="the parameters are :order_id, :payment_intent and :email")
    if not names:
        raise OrderSourceConfigError(
            "the order query uses no parameter, so every lookup would return the same rows",
            param="query", hint="filter with :order_id, :payment_intent and/or :email")
