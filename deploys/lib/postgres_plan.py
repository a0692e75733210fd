"""PostgreSQL choices that follow from a host's facts, kept free of pyinfra
state so the deploy and the host checks compute them the same way."""

AS_POSTGRES = {"_sudo": True, "_sudo_user": "postgres", "_chdir": "/"}  # operations and facts run as postgres

# The releases the deploys support, and the PostgreSQL major each ships. Debian
# hosts use theirs; Ubuntu hosts get the wanted major, from the PGDG repository
# when theirs differs.
DISTRO_MAJORS = {("Debian", 12): 15, ("Debian", 13): 17, ("Ubuntu", 22): 14, ("Ubuntu", 24): 16}


def unsupported_release(distro: str, release_major: int) -> str | None:
    """Why a host on this release cannot be deployed, or None when it can."""
    if (distro, release_major) in DISTRO_MAJORS:
        return None
    supported = ", ".join(f"{name} {major}{'.04' if name == 'Ubuntu' else ''}" for name, major in DISTRO_MAJORS)
    return (f"{distro} {release_major} is not a supported release (supported: {supported}); nothing was changed. "
            "Move the host to a supported release first: docs/operations.md, 'Moving to a supported release'")


def postgres_plan(distro: str, release_major: int, wanted: int) -> tuple[int, bool]:
    """(major to install, whether it comes from the PGDG repository)."""
    own = DISTRO_MAJORS.get((distro, release_major))
    if own is None:
        raise ValueError(f"no PostgreSQL plan for {distro} {release_major}")
    if distro == "Debian":
        return own, False
    return wanted, wanted != own


def memory_settings(ram_mb: int, max_connections: int, shared_buffers_ratio: float,
                    effective_cache_ratio: float) -> dict[str, int]:
    """Memory settings in MiB for a host with ram_mb of RAM."""
    return {
        "shared_buffers_mb": int(ram_mb * shared_buffers_ratio),
        "effective_cache_mb": int(ram_mb * effective_cache_ratio),
        # Sort/hash memory: a slice of RAM per connection, kept within sane bounds.
        "work_mem_mb": max(4, min(64, ram_mb // (max_connections * 4))),
        "maintenance_work_mem_mb": max(64, min(1024, ram_mb // 16)),
    }
