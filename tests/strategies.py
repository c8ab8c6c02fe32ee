"""Hypothesis strategies shared by the tests that attack the query parameters."""

from __future__ import annotations

from hypothesis import strategies as st

#: RediSearch query syntax, and then some.
SYNTAX = "{}|@*-()[]\"':;$~\\%&!^=<>,./?#`+"
#: A value someone might type, or craft, into any parameter.
HOSTILE = st.one_of(
    st.text(alphabet=SYNTAX, max_size=12),
    st.text(max_size=30),
    st.sampled_from(["", " ", "*", "Men | Women", "Men}|{Women", "-Men", "@gender:{Women}", "x" * 5000,
                     "$vector", "\\", "Myntra\" | @name:(", "Ünïcødé ☃", "\x00"]),
)
