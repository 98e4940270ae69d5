"""The routes of recovery and real-name levels: 找回密码 from the sign-in page, the second step
with a recovery code, and the account pages for the password, the phone, the recovery codes
and the real-name level."""

from __future__ import annotations

from starlette.routing import Route

from gateway.account import password, phone, real_name, recovery_codes
from gateway.endpoints.authorize import REAL_NAME_PATH
from gateway.pages import recover, recovery_code

ROUTES = [
    Route(recover.RECOVER_PATH, recover.recover_page, methods=["GET"]),
    Route(recover.RECOVER_PATH, recover.verify, methods=["POST"]),
    Route(recover.SEND_PATH, recover.send, methods=["POST"]),
    Route(recover.RESET_PATH, recover.reset_password, methods=["POST"]),
    Route(recovery_code.RECOVERY_CODE_PATH, recovery_code.recovery_code_page, methods=["GET"]),
    Route(recovery_code.RECOVERY_CODE_PATH, recovery_code.recovery_code_submit, methods=["POST"]),
    Route(password.PASSWORD_PATH, password.password_page, methods=["GET"]),
    Route(password.PASSWORD_PATH, password.password_submit, methods=["POST"]),
    Route(phone.PHONE_PATH, phone.phone_page, methods=["GET"]),
    Route(phone.PHONE_PATH, phone.phone_submit, methods=["POST"]),
    Route(recovery_codes.RECOVERY_CODES_PATH, recovery_codes.recovery_codes_page, methods=["GET"]),
    Route(
        recovery_codes.RECOVERY_CODES_PATH, recovery_codes.recovery_codes_submit, methods=["POST"]
    ),
    Route(REAL_NAME_PATH, real_name.real_name_page, methods=["GET"]),
    Route(REAL_NAME_PATH, real_name.real_name_submit, methods=["POST"]),
]
