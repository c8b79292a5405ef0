//! The open-file limit a worker on the grammers path needs: a descriptor for each live Telegram
//! connection (1,000 running bots held 1,015, BENCHMARKS.md, cost), and any session in the pool
//! may be connected at once. This module raises the process's soft limit to what the pool needs
//! and refuses to start, saying what to change, when the system's hard limit is lower or the
//! raise is refused. It never lowers a limit.

use anyhow::bail;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Descriptors besides connections: Redis, the listener and its clients, data files, the runtime.
pub(crate) const HEADROOM: u64 = 256;

/// The soft limit before and after, when it was raised.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Raised {
    pub(crate) from: u64,
    pub(crate) to: u64,
}

/// Makes room for `connections` Telegram connections beside [`HEADROOM`].
pub(crate) fn ensure(connections: u64) -> anyhow::Result<Option<Raised>> {
    let wanted = connections.saturating_add(HEADROOM);
    let limit = getrlimit(Resource::Nofile);
    // `None` is RLIM_INFINITY.
    let soft = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if soft >= wanted {
        return Ok(None);
    }
    if hard < wanted {
        bail!(
            "the pool's {connections} sessions may each hold a Telegram connection: this worker needs about {wanted} open files, and the system allows at most {hard} (raise the hard limit: `ulimit -Hn {wanted}` in the shell that starts it, `LimitNOFILE={wanted}` in a systemd unit, `--ulimit nofile={wanted}` for docker)"
        );
    }
    let raised = Rlimit {
        current: Some(wanted),
        maximum: limit.maximum,
    };
    if let Err(err) = setrlimit(Resource::Nofile, raised) {
        bail!(
            "cannot raise the open-file limit from {soft} to {wanted} for the pool's {connections} sessions: {err}"
        );
    }
    Ok(Some(Raised {
        from: soft,
        to: wanted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the limit is the process's, and tests run on threads of one process.
    #[test]
    fn the_soft_limit_is_raised_to_what_the_pool_needs_and_a_need_over_the_hard_limit_is_refused() {
        let hard = getrlimit(Resource::Nofile).maximum.unwrap_or(u64::MAX);
        // Room to raise, also where soft and hard start equal: a little below the hard limit.
        let soft = hard.min(1 << 20) - 100;
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(soft),
                maximum: Some(hard).filter(|h| *h != u64::MAX),
            },
        )
        .unwrap();
        let connections = soft - HEADROOM + 1;
        assert_eq!(
            ensure(connections).unwrap(),
            Some(Raised {
                from: soft,
                to: soft + 1
            })
        );
        assert_eq!(getrlimit(Resource::Nofile).current, Some(soft + 1));
        // Met already: nothing changes.
        assert_eq!(ensure(connections).unwrap(), None);
        assert_eq!(ensure(1).unwrap(), None);
        if hard < u64::MAX - HEADROOM {
            let err = ensure(hard).unwrap_err().to_string();
            assert!(err.contains(&format!("at most {hard}")), "{err}");
            assert!(err.contains("LimitNOFILE="), "{err}");
            assert_eq!(getrlimit(Resource::Nofile).current, Some(soft + 1));
        }
    }
}
