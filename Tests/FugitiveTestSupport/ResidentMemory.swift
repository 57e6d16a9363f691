import Foundation

/// This process's resident memory in bytes (`/proc/self/statm`), for tests that bound
/// what an attacker can make a process hold; 0 where `/proc` is not there.
public func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
