"""找回密码 counts the same SMS limits as 短信登录, across two gateway instances sharing Redis
and PostgreSQL: a number just sent a sign-in code on one instance gets no recovery code on the
other, whether or not it has an account."""

from __future__ import annotations

from tests.gateway.browser import Browser
from tests.gateway.helpers import second_instance
from tests.gateway.pages.test_sms_limits_scale_out import _send_at, two  # noqa: F401 (fixture)
from tests.gateway.recovery_flow import give_phone, post, recovery_page
from tests.gateway.sms_flow import outbox, sms_page
from tests.gateway.sso import CALLBACK, authorize_url

PHONE, STRANGER = "13912345678", "13700000009"


async def test_recovery_shares_the_sign_in_limits_across_instances(two) -> None:  # noqa: F811
    a, b = two
    async with second_instance(a.settings) as admin:
        account = await admin.accounts.create_local(username="wang", password="a-good-password")
        await give_phone(admin, account.id, PHONE)
        tax = await admin.clients.register(name="税务服务", redirect_uris=[CALLBACK])
    first, second = Browser(a.url), Browser(b.url)
    try:
        for number in (PHONE, STRANGER):
            page = await sms_page(first, authorize_url(a.url, tax.client.client_id))
            assert (await _send_at(first, a.url, page, number)).status_code == 200
        answers = []
        for number in (PHONE, STRANGER):
            page = await recovery_page(second, authorize_url(b.url, tax.client.client_id))
            answers.append(await post(second, page, "/login/recover/send", phone=number))
        assert [r.status_code for r in answers] == [429, 429]
        assert all(int(r.headers["retry-after"]) > 0 for r in answers)
        assert len(outbox(a.settings.data_dir)) == 2  # the two sign-in codes, nothing more
    finally:
        await first.close()
        await second.close()
