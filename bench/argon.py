"""The physical limit of password sign-ins: argon2id verifications a second on one core, with the
gateway's default parameters.

    python -m bench.argon SECONDS   (run it pinned: taskset -c 0 ...)
"""

from __future__ import annotations

import json
import sys
import time

from gateway.identity.passwords import Passwords
from gateway.server.settings import Settings


def verify_rate(seconds: float) -> dict[str, float]:
    settings = Settings()
    passwords = Passwords(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    stored = passwords.hash("Bench-pass-2026!")
    passwords.verify_sync(stored, "Bench-pass-2026!")  # warm the allocator
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        if not passwords.verify_sync(stored, "Bench-pass-2026!").ok:
            raise SystemExit("verification failed")
        count += 1
    return {
        "verify_per_s": round(count / elapsed, 2),
        "ms_per_verify": round(elapsed / count * 1000, 2),
        "memory_kib": settings.argon2_memory_kib,
        "time_cost": settings.argon2_time_cost,
        "parallelism": settings.argon2_parallelism,
    }


if __name__ == "__main__":
    print(json.dumps(verify_rate(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)))
