import 'reflect-metadata';
import { GatewayApiModule } from '@schedstack/gateway-api';
import { runMain, startServiceProcess } from '@schedstack/runtime';

/** The public REST API as its own process (SPEC §1 distributed profile); any number of replicas. */
runMain(() => startServiceProcess({ service: 'gateway', modules: [GatewayApiModule], http: true }));
