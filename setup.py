"""Standard nbdev-2 setup.py: everything is read from settings.ini."""
from configparser import ConfigParser
import setuptools, shlex

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

expected = 'version description keywords author author_email'.split()
missing = [o for o in expected if o not in cfg]
if missing: raise ValueError(f"settings.ini is missing: {missing}")

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12'.split()

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
lic = licenses[cfg['license']]
min_python = cfg['min_python']
console_scripts = cfg.get('console_scripts', '').split()

from setuptools.command.build_py import build_py


class BuildWithNotebooks(build_py):
    "Ship the experiment notebooks (nbs/02-05, 08) inside the package, for `unlearn-study run` from a wheel."
    def run(self):
        super().run()
        import glob, shutil, os
        dest = os.path.join(self.build_lib, cfg['lib_path'], 'notebooks')
        os.makedirs(dest, exist_ok=True)
        for nb in sorted(glob.glob('nbs/0[2-58]_*.ipynb')):
            shutil.copy(nb, dest)


setuptools.setup(
    cmdclass={'build_py': BuildWithNotebooks},
    name=cfg['lib_name'],
    license=lic[0],
    classifiers=['Development Status :: ' + statuses[int(cfg['status'])],
                 'Intended Audience :: ' + cfg['audience'].title(),
                 'Natural Language :: ' + cfg['language'].title(),
                 'License :: ' + lic[1]]
                + ['Programming Language :: Python :: ' + o for o in py_versions[py_versions.index(min_python):]],
    url=cfg['git_url'],
    packages=setuptools.find_packages(include=['unlearn_study', 'unlearn_study.*']),
    include_package_data=True,
    package_data={'unlearn_study': ['data/*', 'data/*/*', 'assets/*/*', 'assets/*/*/*', 'assets/*/*/*/*', 'assets/*/*/*/*/*']},
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    python_requires='>=' + min_python,
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'console_scripts': console_scripts, 'nbdev': [f'{cfg["lib_path"]}={cfg["lib_path"]}._modidx:d']},
    version=cfg['version'],
    description=cfg['description'],
    keywords=cfg['keywords'],
    author=cfg['author'],
    author_email=cfg['author_email'],
)
