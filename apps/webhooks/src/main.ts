import 'reflect-metadata';
import { WebhooksServiceModule } from '@schedstack/webhooks-service';
import { runMain, startServiceProcess } from '@schedstack/runtime';

/** The webhooks service as its own process (SPEC §1 distributed profile). */
runMain(() => startServiceProcess({ service: 'webhooks', modules: [WebhooksServiceModule] }));
