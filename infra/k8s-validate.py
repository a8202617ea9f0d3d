#!/usr/bin/env python3
"""Offline validation of rendered Kubernetes manifests (run by infra/k8s-tools.sh, in the venv
that holds kubernetes-validate, which brings PyYAML and jsonschema).

  k8s-validate.py extract-crds OUT_DIR CRD.yaml...
      turn each CRD's openAPIV3Schema (every served version) into a strict JSON Schema file
      OUT_DIR/<kind>-<group>-<version>.json
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
    return validate(args)


if __name__ == '__main__':
    sys.exit(main())
