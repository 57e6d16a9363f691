import Foundation

/// This process's resident memory in bytes (`/proc/self/statm`), for tests that bound
/// what an attacker can make a process hold; 0 where `/proc` is not there.
public func residentBytes() -> Int { residentBytes(ofProcess: "self") }

/// Another process's resident memory in bytes (`/proc/PID/statm`); 0 once it is gone.
public func residentBytes(of process: Process) -> Int { residentBytes(ofProcess: "\(process.processIdentifier)") }

func residentBytes(ofProcess id: String) -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/\(id)/statm", encoding: .utf8),
        let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
