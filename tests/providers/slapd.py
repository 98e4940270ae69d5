"""A real OpenLDAP server for tests: Debian's slapd on a free port with its own database,
seeded as a department directory, with the password policy overlay (``ppolicy_use_lockout``):
``locked`` is locked after three wrong passwords, ``renewed`` must change a reset password, the
password of ``aged`` expires a second after the start; ``left`` has left (employeeType)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support import ServerProcess, free_port, serve

SUFFIX = "dc=tax,dc=city,dc=gov,dc=cn"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
SERVICE_DN = f"cn=gateway,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "service-secret"
MAX_FAILURES = 3  # wrong passwords after which the policy locks ``locked``
MAX_AGE = 1  # seconds after which the password of ``aged`` has expired
PPOLICY_CONTROL = "1.3.6.1.4.1.42.2.27.8.5.1"

CONFIG = """
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {tmp}/slapd.pid
database mdb
suffix "{suffix}"
rootdn "{admin}"
rootpw {admin_password}
directory {tmp}/db
overlay ppolicy
ppolicy_use_lockout
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by dn.exact="{service}" read by self read by * none
"""

SEED = """
dn: {suffix}
objectClass: dcObject
objectClass: organization
o: 税务局
dc: tax

dn: ou=people,{suffix}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{suffix}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{suffix}
objectClass: organizationalUnit
ou: services

dn: ou=policies,{suffix}
objectClass: organizationalUnit
ou: policies

dn: cn=lockout,ou=policies,{suffix}
objectClass: device
objectClass: pwdPolicy
cn: lockout
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: {max_failures}

dn: cn=ageing,ou=policies,{suffix}
objectClass: device
objectClass: pwdPolicy
cn: ageing
pwdAttribute: userPassword
pwdMaxAge: {max_age}

dn: cn=reset,ou=policies,{suffix}
objectClass: device
objectClass: pwdPolicy
cn: reset
pwdAttribute: userPassword
pwdMustChange: TRUE

dn: {service}
objectClass: person
cn: gateway
sn: gateway
userPassword: {service_password}

dn: uid=zhangwei,ou=people,{suffix}
objectClass: inetOrgPerson
uid: zhangwei
cn: 张伟
sn: 张
mail: zhangwei@tax.city.gov.cn
mobile: 13900139000
userPassword: tax-password-1

dn: uid=liuyang,ou=people,{suffix}
objectClass: inetOrgPerson
uid: liuyang
cn: 刘洋
sn: 刘
userPassword: tax-password-2

dn: uid=twin,ou=people,{suffix}
objectClass: inetOrgPerson
uid: twin
cn: Twin One
sn: One
userPassword: twin-password

dn: cn=twin,ou=people,{suffix}
objectClass: inetOrgPerson
uid: twin
cn: twin
sn: Two
userPassword: twin-password

dn: uid=locked,ou=people,{suffix}
objectClass: inetOrgPerson
uid: locked
cn: 孙磊
sn: 孙
userPassword: locked-password
pwdPolicySubentry: cn=lockout,ou=policies,{suffix}

dn: uid=renewed,ou=people,{suffix}
objectClass: inetOrgPerson
uid: renewed
cn: 周敏
sn: 周
userPassword: reset-password
pwdPolicySubentry: cn=reset,ou=policies,{suffix}

dn: uid=aged,ou=people,{suffix}
objectClass: inetOrgPerson
uid: aged
cn: 郑华
sn: 郑
userPassword: aged-password
pwdPolicySubentry: cn=ageing,ou=policies,{suffix}

dn: uid=left,ou=people,{suffix}
objectClass: inetOrgPerson
uid: left
cn: 吴芳
sn: 吴
employeeType: left
userPassword: left-password

dn: cn=稽查科,ou=groups,{suffix}
objectClass: groupOfNames
cn: 稽查科
member: uid=zhangwei,ou=people,{suffix}

dn: cn=纳税服务科,ou=groups,{suffix}
objectClass: groupOfNames
cn: 纳税服务科
member: uid=zhangwei,ou=people,{suffix}
member: uid=liuyang,ou=people,{suffix}
"""


def available() -> bool:
    return bool(shutil.which("slapd") or os.path.exists("/usr/sbin/slapd")) and bool(
        shutil.which("ldapadd")
    )


def start(tmp: Path) -> ServerProcess:
    (tmp / "db").mkdir(parents=True)
    values = {
        "tmp": tmp,
        "suffix": SUFFIX,
        "admin": ADMIN_DN,
        "admin_password": ADMIN_PASSWORD,
        "service": SERVICE_DN,
        "service_password": SERVICE_PASSWORD,
        "max_failures": MAX_FAILURES,
        "max_age": MAX_AGE,
    }
    (tmp / "slapd.conf").write_text(CONFIG.format(**values))
    (tmp / "seed.ldif").write_text(SEED.format(**values), encoding="utf-8")
    port = free_port()
    url = f"ldap://127.0.0.1:{port}"
    slapd = shutil.which("slapd") or "/usr/sbin/slapd"
    command = [slapd, "-d", "0", "-h", f"{url}/", "-f", str(tmp / "slapd.conf")]
    server = serve(command, port, url, tmp / "slapd.log", seconds=10)
    admin = ["-x", "-H", url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD]
    subprocess.run(
        ["ldapadd", *admin, "-f", str(tmp / "seed.ldif")], check=True, capture_output=True
    )
    # An administrator reset this password: the policy asks for a change before anything else.
    reset = (
        f"dn: uid=renewed,ou=people,{SUFFIX}\n"
        "changetype: modify\nreplace: pwdReset\npwdReset: TRUE\n"
    )
    subprocess.run(["ldapmodify", *admin], input=reset.encode(), check=True, capture_output=True)
    return server


def lock_state(server: ServerProcess, uid: str) -> str | None:
    """The directory's own record of a lock (pwdAccountLockedTime), read as its administrator."""
    admin = ["-x", "-LLL", "-H", server.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD]
    found = subprocess.run(
        [
            "ldapsearch",
            *admin,
            "-b",
            f"uid={uid},ou=people,{SUFFIX}",
            "-s",
            "base",
            "(objectClass=*)",
            "pwdAccountLockedTime",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in found.splitlines():
        if line.startswith("pwdAccountLockedTime:"):
            return line.split(":", 1)[1].strip()
    return None
