"""Malformed, oversized and hostile input at every CAS endpoint, one table: each gets the CAS
answer its endpoint owes (a failure code, CAS 1.0's ``no``, or a page that redirects nowhere),
never a 500."""

from __future__ import annotations

import httpx

S = "https://estate.example.gov.cn/cas/callback"
LONG = "a" * 20_000


def failure(code: str, element: str = "authenticationFailure"):
    def check(response: httpx.Response) -> bool:
        return (
            response.status_code == 200
            and response.headers["content-type"].startswith("application/xml")
            and f'<cas:{element} code="{code}">' in response.text
        )

    return check


def page(status: int):
    def check(response: httpx.Response) -> bool:
        return (
            response.status_code == status
            and response.headers["content-type"].startswith("text/html")
            and "location" not in response.headers
        )

    return check


def no(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.text == "no\n\n"


ROWS = [
    ("/cas/serviceValidate", f"service={S}&ticket=ST-x%00", failure("INVALID_REQUEST")),
    ("/cas/serviceValidate", f"service={S}&service={S}&ticket=ST-x", failure("INVALID_REQUEST")),
    ("/cas/serviceValidate", "service=%ff%fe&ticket=ST-x", failure("INVALID_TICKET")),
    ("/cas/p3/serviceValidate", f"service={LONG}&ticket=ST-x", failure("INVALID_REQUEST")),
    ("/cas/p3/serviceValidate", f"service={S}&ticket=PGT-x", failure("INVALID_TICKET")),
    (
        "/cas/proxyValidate",
        f"service={S}&ticket=ST-1&pgtUrl=https://evil.example.com/",
        failure("INVALID_TICKET"),
    ),
    ("/cas/p3/proxyValidate", f"service={S}", failure("INVALID_REQUEST")),
    ("/cas/p3/proxyValidate", f"service={S}&ticket=PT-{'x' * 5000}", failure("INVALID_REQUEST")),
    ("/cas/proxy", "pgt=%ff&targetService=x", failure("INVALID_TICKET", "proxyFailure")),
    ("/cas/proxy", "pgt=PGT-1", failure("INVALID_REQUEST", "proxyFailure")),
    ("/cas/proxy", f"pgt=PGT-1&targetService={LONG}", failure("INVALID_REQUEST", "proxyFailure")),
    ("/cas/validate", f"service={S}&ticket=ST-1", no),
    ("/cas/validate", "service=%ff&ticket=%00", no),
    ("/cas/login", "service=javascript:alert(1)", page(400)),
    ("/cas/login", "service=https://evil.example.com/", page(400)),
    ("/cas/login", f"service={S}%00", page(400)),
    ("/cas/login", f"service={LONG}", page(400)),
    ("/cas/login/resume", "tx=%ff", page(400)),
    ("/cas/login/resume", f"tx={LONG}", page(400)),
    ("/cas/logout", "service=https://evil.example.com/", page(200)),
    ("/cas/logout", "service=%ff%fe", page(200)),
]


async def test_bad_input_gets_the_protocols_answer_never_a_500(cas_world) -> None:
    await cas_world["command"].cas_app("不动产登记", S)
    wrong = []
    async with httpx.AsyncClient(base_url=cas_world["live"].url, timeout=30) as http:
        for path, query, expected in ROWS:
            response = await http.get(f"{path}?{query}")
            if not expected(response):
                wrong.append((path, query[:60], response.status_code, response.text[:200]))
        for path in ("/cas/login", "/cas/serviceValidate", "/cas/proxy"):
            posted = await http.post(path, content=b"\xff\xfe")
            if posted.status_code != 405:
                wrong.append((f"POST {path}", "", posted.status_code, posted.text[:200]))
    assert wrong == []
