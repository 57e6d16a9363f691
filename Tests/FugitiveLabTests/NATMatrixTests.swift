import Foundation
import FugitiveLab
import FugitiveTestSupport
import Testing

extension LabTests {
    /// Native peers (`fugitive peer`, the release build) in every pair of NAT kinds of the
    /// network lab, with coturn beside the orchestrator (``NATMatrix``): the second peer of
    /// each pair fetches from the first, directly where a direct path exists and through
    /// TURN only where one must.
    @Suite("NAT matrix in the network lab", .serialized, .timeLimit(.minutes(8)))
    struct NATMatrixTests {
        @Test func everyPairLinksDirectlyWhereItCanAndThroughTURNWhereItMust() async throws {
            let run = try await NATMatrix.run()
            print("lab NATs: \(run.nats.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; "))")
            for result in run.results {
                print("lab pair: \(result)")
                #expect(result.source == "peer", "\(result)")
                #expect(result.route == (NATMatrix.mustRelay(result) ? "relayed" : "direct"), "\(result)")
                #expect(result.graphRoute == result.route, "the operator's graph shows another route: \(result)")
                #expect(result.setupMilliseconds != nil, "no setup time in the linked event: \(result)")
            }
            #expect(run.results.count == NATMatrix.pairs.count)
            if run.results.contains(where: { $0.source != "peer" }) {
                print("coturn's log:\n\(run.turnLog)\nlook-ups of \(LabServices.turnName): \(run.turnLookups)")
            }
            for (path, gets) in run.originGets { #expect(gets == 1, "\(path): \(gets) origin GETs") }
        }
    }
}
