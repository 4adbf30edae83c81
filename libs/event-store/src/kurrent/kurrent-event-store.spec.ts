import { runEventStoreContract } from '../testing/event-store.contract';
import { KurrentEventStore } from './kurrent-event-store';

const url = process.env.EVENTSTORE_URL;
if (!url) {
  console.warn('SKIPPED: KurrentDB contract suite — set EVENTSTORE_URL=esdb://host:2113?tls=false to run it (no KurrentDB server on this machine)');
}

// Skipped without EVENTSTORE_URL: this machine has no KurrentDB server, so the adapter is only
// compiled and typechecked here; point EVENTSTORE_URL at a server to run the full contract.
(url ? describe : describe.skip)('KurrentEventStore', () => {
  runEventStoreContract('KurrentEventStore', async () => {
    const store = new KurrentEventStore({ connectionString: url ?? '' });
    return { store, cleanup: () => store.close() };
  });
});
