"""control plane: pipelines, versions, recurring runs, resources and their change log

New NOT NULL columns on runs and events carry server defaults so existing rows migrate.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('pipelines',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('namespace', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pipelines_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_pipelines_ns_name', ['namespace', 'name'], unique=True)

    op.create_table('resource_changes',
    sa.Column('resource_version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('group', sa.String(length=253), nullable=False),
    sa.Column('plural', sa.String(length=128), nullable=False),
    sa.Column('namespace', sa.String(length=253), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('object', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('resource_version')
    )
    with op.batch_alter_table('resource_changes', schema=None) as batch_op:
        batch_op.create_index('ix_resource_changes_kind', ['group', 'plural', 'resource_version'], unique=False)

    op.create_table('resources',
    sa.Column('uid', sa.String(length=36), nullable=False),
    sa.Column('group', sa.String(length=253), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=128), nullable=False),
    sa.Column('plural', sa.String(length=128), nullable=False),
    sa.Column('namespace', sa.String(length=253), nullable=False),
    sa.Column('name', sa.String(length=253), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('status', sa.JSON(), nullable=False),
    sa.Column('resource_version', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('uid')
    )
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.create_index('ix_resources_key', ['group', 'plural', 'namespace', 'name'], unique=True)
        batch_op.create_index(batch_op.f('ix_resources_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_resources_resource_version'), ['resource_version'], unique=False)

    op.create_table('pipeline_versions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('pipeline_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('platform_spec', sa.JSON(), nullable=True),
    sa.Column('code_source_url', sa.Text(), nullable=False),
    sa.Column('package_url', sa.Text(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pipeline_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pipeline_versions_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_pipeline_versions_name', ['pipeline_id', 'name'], unique=True)

    op.create_table('recurring_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('namespace', sa.String(length=255), nullable=False),
    sa.Column('experiment_id', sa.String(length=36), nullable=True),
    sa.Column('pipeline_id', sa.String(length=36), nullable=True),
    sa.Column('pipeline_version_id', sa.String(length=36), nullable=True),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('platform_spec', sa.JSON(), nullable=True),
    sa.Column('inline_spec', sa.Boolean(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('pipeline_root', sa.Text(), nullable=False),
    sa.Column('service_account', sa.String(length=255), nullable=False),
    sa.Column('max_concurrency', sa.Integer(), nullable=False),
    sa.Column('no_catchup', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('cron', sa.String(length=255), nullable=False),
    sa.Column('interval_second', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('enabled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_fire_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('recurring_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recurring_runs_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_recurring_runs_experiment_id'), ['experiment_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('object_namespace', sa.String(length=253), nullable=False, server_default=''))

    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('pipeline_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('pipeline_version_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('recurring_run_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('archived', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('pipeline_root', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('service_account', sa.String(length=255), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_runs_recurring_run_id'), ['recurring_run_id'], unique=False)
        batch_op.create_index('ix_runs_experiment_created', ['experiment_id', 'created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index('ix_runs_experiment_created')
        batch_op.drop_index(batch_op.f('ix_runs_recurring_run_id'))
        batch_op.drop_column('service_account')
        batch_op.drop_column('pipeline_root')
        batch_op.drop_column('archived')
        batch_op.drop_column('scheduled_at')
        batch_op.drop_column('recurring_run_id')
        batch_op.drop_column('pipeline_version_id')
        batch_op.drop_column('pipeline_id')
        batch_op.drop_column('description')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('object_namespace')

    with op.batch_alter_table('recurring_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recurring_runs_experiment_id'))
        batch_op.drop_index(batch_op.f('ix_recurring_runs_created_at'))

    op.drop_table('recurring_runs')
    with op.batch_alter_table('pipeline_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_pipeline_versions_name')
        batch_op.drop_index(batch_op.f('ix_pipeline_versions_created_at'))

    op.drop_table('pipeline_versions')
    with op.batch_alter_table('resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resources_resource_version'))
        batch_op.drop_index(batch_op.f('ix_resources_kind'))
        batch_op.drop_index('ix_resources_key')

    op.drop_table('resources')
    with op.batch_alter_table('resource_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_changes_kind')

    op.drop_table('resource_changes')
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.drop_index('ix_pipelines_ns_name')
        batch_op.drop_index(batch_op.f('ix_pipelines_created_at'))

    op.drop_table('pipelines')
    op.drop_table('counters')
