"""A real OpenLDAP server for tests: Debian's slapd on a free port with its own database,
seeded as a department directory."""

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

CONFIG = """
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {tmp}/slapd.pid
database mdb
suffix "{suffix}"
rootdn "{admin}"
rootpw {admin_password}
directory {tmp}/db
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
    return server
