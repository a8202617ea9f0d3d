#!/usr/bin/env python3
"""Offline validation of rendered Kubernetes manifests (run by infra/k8s-tools.sh, in the venv
that holds kubernetes-validate, which brings PyYAML and jsonschema).

  k8s-validate.py extract-crds OUT_DIR CRD.yaml...
      turn each CRD's openAPIV3Schema (every served version) into a strict JSON Schema file
      OUT_DIR/<kind>-<group>-<version>.json
  k8s-validate.py extract-scaler OUT_DIR TYPE SCALER.go
      the parameter names of a KEDA scaler, from the `keda:"name=..., order=..."` tags of its Go
      source, to OUT_DIR/scaler-TYPE.json: trigger metadata (plus <name>FromEnv where the tag
      says resolvedEnv) and TriggerAuthentication parameters. ScaledObject metadata is a free
      string map in the CRD, so without this a misspelt key would pass.
  k8s-validate.py validate --k8s-version V --crds DIR [--name NAME] [--json] FILE|- ...
      validate every object of the YAML streams: built-in kinds with kubernetes-validate (strict:
      unknown fields are errors), CRD kinds against the extracted schemas (strict the same way);
      a kind with no schema is an error, never a silent pass. Exit 1 when anything is invalid.

The CRD conversion follows what kubeconform's openapi2jsonschema does: x-kubernetes-int-or-string
becomes integer-or-string, nullable adds null, and objects with declared properties refuse other
fields unless x-kubernetes-preserve-unknown-fields says otherwise.
"""
import argparse
import json
import os
import sys

import jsonschema
import yaml


def strict_schema(node):
    if isinstance(node, list):
        return [strict_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict_schema(v) for k, v in node.items()}
    if out.pop('x-kubernetes-int-or-string', False):
        out.pop('type', None)
        out.pop('format', None)
        out['anyOf'] = [{'type': 'integer'}, {'type': 'string'}]
    if out.pop('nullable', False) and isinstance(out.get('type'), str):
        out['type'] = [out['type'], 'null']
    if 'properties' in out and 'additionalProperties' not in out and not out.get('x-kubernetes-preserve-unknown-fields'):
        out['additionalProperties'] = False
    return out


def extract_crds(out_dir, files):
    os.makedirs(out_dir, exist_ok=True)
    n = 0
    for path in files:
        with open(path) as f:
            for crd in yaml.safe_load_all(f):
                if not crd or crd.get('kind') != 'CustomResourceDefinition':
                    continue
                group = crd['spec']['group']
                kind = crd['spec']['names']['kind']
                for v in crd['spec']['versions']:
                    if not v.get('served', True):
                        continue
                    schema = strict_schema(v['schema']['openAPIV3Schema'])
                    schema.setdefault('properties', {})
                    schema['properties']['apiVersion'] = {'const': f'{group}/{v["name"]}'}
                    schema['properties']['kind'] = {'const': kind}
                    schema['required'] = sorted(set(schema.get('required', [])) | {'apiVersion', 'kind', 'metadata', 'spec'})
                    name = f'{kind.lower()}-{group}-{v["name"]}.json'
                    with open(os.path.join(out_dir, name), 'w') as g:
                        json.dump(schema, g)
                    n += 1
    if n == 0:
        sys.exit('extract-crds: no CustomResourceDefinition found')
    print(f'extract-crds: {n} schemas written to {out_dir}', file=sys.stderr)


def extract_scaler(out_dir, typ, src):
    import re
    metadata, auth = set(), set()
    for m in re.finditer(r'keda:"([^"]*)"', open(src).read()):
        fields = dict(kv.strip().split('=', 1) for kv in m.group(1).split(',') if '=' in kv)
        name, order = fields.get('name'), fields.get('order', '')
        if not name:
            continue
        orders = order.split(';')
        if 'triggerMetadata' in orders:
            metadata.add(name)
        if 'authParams' in orders:
            auth.add(name)
        if 'resolvedEnv' in orders:
            metadata.add(name + 'FromEnv')
    if not metadata:
        sys.exit(f'extract-scaler: no keda tags in {src}')
    with open(os.path.join(out_dir, f'scaler-{typ}.json'), 'w') as f:
        json.dump({'metadata': sorted(metadata), 'auth': sorted(auth)}, f)


def scaler_errors(d, crds):
    """Trigger metadata keys and TriggerAuthentication parameters the scaler does not know."""
    out = []
    def known(typ):
        path = os.path.join(crds, f'scaler-{typ}.json')
        return json.load(open(path)) if os.path.exists(path) else None
    if d['kind'] in ('ScaledObject', 'ScaledJob'):
        for i, t in enumerate((d.get('spec') or {}).get('triggers') or []):
            k = known(t.get('type'))
            if k is None:
                continue
            for key in sorted(set(t.get('metadata') or {}) - set(k['metadata'])):
                out.append(f'spec.triggers.{i}.metadata: {t["type"]} scaler has no parameter {key!r}')
    if d['kind'] == 'TriggerAuthentication':
        allowed = set()
        for name in os.listdir(crds):
            if name.startswith('scaler-'):
                allowed |= set(json.load(open(os.path.join(crds, name)))['auth'])
        for i, r in enumerate((d.get('spec') or {}).get('secretTargetRef') or []):
            if r.get('parameter') not in allowed:
                out.append(f'spec.secretTargetRef.{i}.parameter: no known scaler takes {r.get("parameter")!r}')
    return out


def where(err):
    return '.'.join(str(p) for p in err.absolute_path) or '(root)'


def validate(args):
    import kubernetes_validate  # the venv's package; imported here so extract-crds needs only PyYAML

    docs = []
    for path in args.files:
        text = sys.stdin.read() if path == '-' else open(path).read()
        docs.extend(d for d in yaml.safe_load_all(text) if d is not None)
    errors, kinds, seen = [], {}, set()
    for d in docs:
        if not isinstance(d, dict) or 'apiVersion' not in d or 'kind' not in d:
            errors.append({'object': '?', 'error': 'not a Kubernetes object (no apiVersion/kind)'})
            continue
        meta = d.get('metadata') or {}
        ident = f'{d["kind"]}/{meta.get("namespace", "")}/{meta.get("name", "?")}'
        if ident in seen:
            errors.append({'object': ident, 'error': 'defined twice'})
        seen.add(ident)
        group, _, version = d['apiVersion'].rpartition('/')
        crd_schema = os.path.join(args.crds, f'{d["kind"].lower()}-{group}-{version}.json') if group else None
        if crd_schema and os.path.exists(crd_schema):
            with open(crd_schema) as f:
                schema = json.load(f)
            problems = sorted(jsonschema.Draft202012Validator(schema).iter_errors(d), key=lambda e: list(e.absolute_path))
            errors.extend({'object': ident, 'error': f'{where(e)}: {e.message}'} for e in problems)
            errors.extend({'object': ident, 'error': e} for e in scaler_errors(d, args.crds))
            if d['kind'] == 'ScaledJob':
                # The CRD types jobTargetRef loosely in places; check it as the Job KEDA creates.
                job = {'apiVersion': 'batch/v1', 'kind': 'Job', 'metadata': {'name': meta.get('name', 'x')}, 'spec': (d.get('spec') or {}).get('jobTargetRef') or {}}
                try:
                    kubernetes_validate.validate(job, args.k8s_version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    errors.append({'object': ident, 'error': f'spec.jobTargetRef (as a Job): {where(e)}: {e.message}'})
            kinds[d['kind']] = kinds.get(d['kind'], 0) + 1
            continue
        try:
            kubernetes_validate.validate(d, args.k8s_version, strict=True)
            kinds[d['kind']] = kinds.get(d['kind'], 0) + 1
        except kubernetes_validate.ValidationError as e:
            errors.append({'object': ident, 'error': f'{where(e)}: {e.message}'})
        except kubernetes_validate.SchemaNotFoundError:
            errors.append({'object': ident, 'error': f'no schema for {d["apiVersion"]} {d["kind"]} (Kubernetes {args.k8s_version}, CRDs in {args.crds})'})
    report = {'name': args.name, 'objects': len(docs), 'valid': len(docs) - len({e['object'] for e in errors}), 'kinds': kinds, 'errors': errors, 'kubernetesVersion': args.k8s_version}
    if args.json:
        print(json.dumps(report))
    for e in errors:
        print(f'{args.name}: INVALID {e["object"]}: {e["error"]}', file=sys.stderr)
    print(f'{args.name}: {report["objects"]} objects, {len(errors)} errors (Kubernetes {args.k8s_version} schemas; '
          + ', '.join(f'{k} {n}' for k, n in sorted(kinds.items())) + ')', file=sys.stderr)
    return 1 if errors or not docs else 0


def main():
    p = argparse.ArgumentParser(prog='k8s-validate.py')
    sub = p.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('extract-crds')
    e.add_argument('out_dir')
    e.add_argument('crds', nargs='+')
    x = sub.add_parser('extract-scaler')
    x.add_argument('out_dir')
    x.add_argument('type')
    x.add_argument('src')
    v = sub.add_parser('validate')
    v.add_argument('--k8s-version', required=True)
    v.add_argument('--crds', required=True)
    v.add_argument('--name', default='manifests')
    v.add_argument('--json', action='store_true')
    v.add_argument('files', nargs='+')
    args = p.parse_args()
    if args.cmd == 'extract-crds':
        extract_crds(args.out_dir, args.crds)
        return 0
    if args.cmd == 'extract-scaler':
        extract_scaler(args.out_dir, args.type, args.src)
        return 0
    return validate(args)


if __name__ == '__main__':
    sys.exit(main())
