// Module boundaries make the architecture's arrows one-way (STYLE §4): apps depend on libs;
// domain libs depend only on contracts and utils; no service imports another service's internals.
// `type:testing` (fixtures: databases, NATS probe, receiver) is allowed where specs need it.
const nx = require('@nx/eslint-plugin');

module.exports = [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', '**/tmp', '.schedstack', 'bench/results', '**/*.js', 'apps/console/src/api-schema.ts'] },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:contracts', 'type:util'] },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:infra', 'type:testing'] },
            { sourceTag: 'type:infra', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:infra', 'type:testing'] },
            { sourceTag: 'type:application', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:util', 'type:infra', 'type:testing'] },
            { sourceTag: 'type:api', onlyDependOnLibsWithTags: ['type:contracts', 'type:util', 'type:infra'] },
            { sourceTag: 'type:composition', onlyDependOnLibsWithTags: ['type:application', 'type:api', 'type:contracts', 'type:util', 'type:infra'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:composition', 'type:application', 'type:api', 'type:contracts', 'type:util'] },
            { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['*'] },
            { sourceTag: 'scope:schedules', onlyDependOnLibsWithTags: ['scope:schedules', 'scope:shared'] },
            { sourceTag: 'scope:dispatcher', onlyDependOnLibsWithTags: ['scope:dispatcher', 'scope:shared'] },
            { sourceTag: 'scope:environments', onlyDependOnLibsWithTags: ['scope:environments', 'scope:shared'] },
            { sourceTag: 'scope:webhooks', onlyDependOnLibsWithTags: ['scope:webhooks', 'scope:shared'] },
            { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:gateway', 'scope:shared'] },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
];
