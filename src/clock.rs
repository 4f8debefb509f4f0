//! The local clock: the time zone of log lines, the log file's daily name and the local times
//! that `list` shows, read once per process.

/// Local time now, as log lines and the log file's daily name show it.
pub fn now() -> jiff::Zoned {
    jiff::Timestamp::now().to_zoned(local_tz().clone())
}

/// This host's time zone, read once. With `TZ` unset and `/etc/localtime` a link into a
/// zoneinfo tree (the usual Linux setup), the zone is read from that file under the link's
/// name: asking for the system zone by name made the time-zone library list the whole
/// zoneinfo tree first, 0.75 ms of every run (bench/results-2026-12-06.md). Anything else
/// goes to the library's own lookup.
pub fn local_tz() -> &'static jiff::tz::TimeZone {
    static TZ: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();
    TZ.get_or_init(|| linked_localtime().unwrap_or_else(jiff::tz::TimeZone::system))
}

fn linked_localtime() -> Option<jiff::tz::TimeZone> {
    if std::env::var_os("TZ").is_some() {
        return None;
    }
    let path = std::path::Path::new("/etc/localtime");
    let target = std::fs::read_link(path).ok()?;
    let target = target.to_str()?;
    let name = &target[target.find("zoneinfo/")? + "zoneinfo/".len()..];
    let bytes = std::fs::read(path).ok()?;
    jiff::tz::TimeZone::tzif(name, &bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_zone_read_once_is_the_systems() {
        let ours = now();
        let theirs = jiff::Zoned::now();
        assert_eq!(ours.offset(), theirs.offset());
        assert_eq!(local_tz().iana_name(), theirs.time_zone().iana_name());
        if std::env::var_os("TZ").is_none() && std::fs::read_link("/etc/localtime").is_ok() {
            assert!(
                linked_localtime().is_some(),
                "the link's zone is read directly"
            );
        }
    }
}
